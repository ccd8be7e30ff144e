"""Loading an example's ``antiscrape.toml`` with the few things a file cannot know.

- The secret key comes from the environment (``ANTISCRAPE_SECRET_KEY``, read by
  ``Config.load`` for every entry point, ``antiscrape check`` included), never from a file
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

from antiscrape.config import SECRET_KEY_ENV, read_toml, secrets_from_environment

from .shop_pages import ShopSite

SECRET_ENV = SECRET_KEY_ENV


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
    data = secrets_from_environment(merge(read_toml(Path(path)), overrides or {}), os.environ)
    if not data.get("secret_key"):
        data["debug"] = True
    canaries = dict(data.get("enumeration", {}).get("canaries", {}))
    if "profile" in canaries:
        numbers = [int(str(n)) for n in canaries["profile"]]
        canaries["profile"] = [site.ids.encode("user", n) for n in numbers]
        data = merge(data, {"enumeration": {"canaries": canaries}})
    return data
