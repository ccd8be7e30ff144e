"""A plan: the storage operations one step needs, and what to conclude from their results.

Decision code builds plans (pure), the engine executes their operations (sync or async, the
only place where the two differ) and hands the results back to ``finish`` (pure again). This
is how one policy serves WSGI and ASGI apps without a second copy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .decision import Decision
from .state.ops import Op


@dataclass(slots=True)  # not frozen: built per request (see decision.py)
class Plan:
    ops: Sequence[Op]
    finish: Callable[[Sequence[Any]], Decision]
    failed: Callable[[], Decision] | None = None
    """What to decide when storage is unreachable; None: the engine's failure policy."""
    then: Callable[[Sequence[Any]], Sequence[Op]] | None = None
    """Operations that depend on the results (e.g. count a replayed answer as a failure):
    run after ``finish`` in a second batch, so only the rare case pays a second round trip."""
