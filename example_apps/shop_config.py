"""Loading an example's ``antiscrape.toml`` with the few things a file cannot know.

- The secret key comes from the environment (``ANTISCRAPE_SECRET_KEY``), never from a file
  that gets copied around; without it the examples run in debug mode (a random per-process
  key and a loud warning), which is fine on a laptop and refused by antiscrape in production.
- Canary ids are listed as record numbers; with opaque public ids they must be spelled the
  way they appear in URLs, so they are re-encoded here.
- ``overrides`` (a nested dict) lets the demo and the tests tighten budgets without a
  second file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from antiscrape.config import read_toml

from .shop_pages import ShopSite

SECRET_ENV = "ANTISCRAPE_SECRET_KEY"


def merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Nested dict merge: tables merge key by key, everything else is replaced."""
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def shop_config(path: str | os.PathLike[str], site: ShopSite,
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The config dict for ``Engine``/the middleware, ready for this shop's id mode."""
    data = merge(read_toml(Path(path)), overrides or {})
    if not data.get("secret_key"):
        secret = os.environ.get(SECRET_ENV, "")
        if secret:
            data["secret_key"] = secret
        else:
            data["debug"] = True
    canaries = dict(data.get("enumeration", {}).get("canaries", {}))
    if "profile" in canaries:
        numbers = [int(str(n)) for n in canaries["profile"]]
        canaries["profile"] = [site.ids.encode("user", n) for n in numbers]
        data = merge(data, {"enumeration": {"canaries": canaries}})
    return data
