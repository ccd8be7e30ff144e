"""MkDocs hook: the navigation follows the pages that exist.

``mkdocs.yml`` lists every page in reading order, including pages that arrive with other
work (a page listed before it is written would otherwise fail ``--strict``). At build time
listed pages that are missing are dropped, and pages in ``docs/`` that the list does not name
are appended, so a new page is never silently left out of the site.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _present(nav: list[Any], docs: Path, listed: set[str]) -> list[Any]:
    kept: list[Any] = []
    for item in nav:
        title, target = next(iter(item.items())) if isinstance(item, dict) else (None, item)
        if isinstance(target, list):
            section = _present(target, docs, listed)
            if section:
                kept.append({title: section})
        elif isinstance(target, str) and not target.startswith(("http://", "https://")):
            listed.add(target)
            if (docs / target).is_file():
                kept.append(item)
        else:
            kept.append(item)
    return kept


def on_config(config: Any) -> Any:
    docs = Path(config["docs_dir"])
    listed: set[str] = set()
    nav = _present(config["nav"] or [], docs, listed)
    for page in sorted(docs.rglob("*.md")):
        name = page.relative_to(docs).as_posix()
        if name not in listed:
            nav.append(name)
    config["nav"] = nav
    return config
