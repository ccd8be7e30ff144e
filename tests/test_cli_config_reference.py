"""The configuration reference (docs/configuration.md) must match the config dataclasses."""

from __future__ import annotations

import dataclasses
from typing import get_args, get_origin, get_type_hints

from antiscrape import configdoc
from antiscrape.config import Config


def leaf_paths(cls: type = Config, prefix: str = "") -> set[str]:
    """Every key path, walked independently of configdoc's own traversal."""
    out: set[str] = set()
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        tp, path = hints[f.name], prefix + f.name
        args = get_args(tp)
        if dataclasses.is_dataclass(tp):
            out |= leaf_paths(tp, path + ".")
        elif get_origin(tp) is dict and dataclasses.is_dataclass(args[1]):
            out |= {path} | leaf_paths(args[1], path + ".<name>.")
        elif get_origin(tp) is tuple and args and dataclasses.is_dataclass(args[0]):
            out |= {path} | leaf_paths(args[0], path + "[].")
        else:
            out.add(path)
    return out


def test_the_reference_page_is_current() -> None:
    page = configdoc.PAGE.read_text(encoding="utf-8")
    block = configdoc.page_block(page)
    assert block is not None, f"{configdoc.PAGE} lacks the config-reference markers"
    assert block == configdoc.table(), (
        "the configuration reference is out of date: run "
        "`python -m antiscrape.configdoc --write`")


def test_every_key_has_a_row_with_default_and_meaning() -> None:
    rows = {r[0]: r for r in configdoc.rows()}
    assert set(rows) == leaf_paths()
    for path, (_, kind, default, _unit, meaning) in rows.items():
        assert kind and default, path
        assert meaning, f"{path}: no docstring in config.py and no configdoc.FALLBACK entry"


def test_defaults_in_the_table_are_the_code_defaults() -> None:
    rows = {r[0]: r for r in configdoc.rows()}
    cfg = Config()
    assert rows["scoring.challenge_at"][2] == str(cfg.scoring.challenge_at)
    assert rows["storage"][2] == f'"{cfg.storage}"'
    assert rows["good_bots.dns_cache_ttl"][3] == "seconds"
    assert rows["budgets.<name>.ip"][3].startswith("rate")
