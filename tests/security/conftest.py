"""The permanent security suite: every test under ``tests/security/`` is an attack that once
worked (or would work on a careless change) and must keep failing. Marked ``security`` so it
can be run alone (``pytest -m security``); ``make test`` runs it with everything else."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.behaviour.conftest import make_site  # noqa: F401  (the four adapters + Redis)

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.security)
