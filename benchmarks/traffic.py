"""What the benchmarks' synthetic traffic asks of an engine's config.

The timing benchmarks replay a few hundred synthetic clients that carry no cookies. With
the visitor identity on, every one of their requests would be a new visitor, and the site
guard would rightly take that for an attack and challenge them: the run would time refusals,
not the protected read. So these benchmarks run with ``visitor.enabled = false`` (what the
engine costs for address-level identity, comparable with older revisions and with the
frameworks' usual limiters); ``bench_identity`` prices the visitor identity itself, with
clients that present their cookies.
"""

from __future__ import annotations

import sys
from typing import Any


def cookieless(config: dict[str, Any], engine_cls: type | None = None) -> dict[str, Any]:
    """``config`` for cookieless synthetic clients; an older engine (``--before``) that has no
    visitor identity gets ``config`` unchanged."""
    if engine_cls is not None:
        module = sys.modules.get(engine_cls.__module__)
        fields = getattr(getattr(module, "Config", None), "__dataclass_fields__", {})
        if "visitor" not in fields:
            return config
    return {**config, "visitor": {"enabled": False}}


SERVED_GUARD = {"min_visitor_reads": 10**9, "min_young_reads": 10**9,
                "min_young_reads_per_day": 10**9}
"""``guard`` settings for runs whose visitors read thousands of records in seconds, which a
site guard rightly holds: its floors for visitors' reads out of reach, so that reads are
timed being served (they are still counted)."""


def visitor_cookie(engine: Any, issued: float) -> str:
    """A ``Cookie`` header value carrying a visitor cookie ``engine`` minted at ``issued``
    (every engine of a run shares the secret, so any of them reads it back)."""
    jar = engine.people.cookies
    assert jar is not None
    return f"{jar.name}={jar.mint(issued)[1]}"
