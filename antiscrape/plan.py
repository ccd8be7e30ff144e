"""A plan: the storage operations one step needs, and what to conclude from their results.

Decision code builds plans, the engine executes their operations (sync or async, the only
place where the two differ) and hands the results back to ``finish``. This is how one policy
serves WSGI and ASGI apps without a second copy. Every step that decides something returns a
Plan: the engine's request plan, the challenge endpoints, and a decision already made
(:meth:`Plan.decided`).
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
    """What to read and write, in one batch (one round trip on Redis); may be empty."""
    finish: Callable[[Sequence[Any]], Decision]
    """The decision, from one result per op."""
    failed: Callable[[], Decision]
    """What to decide when storage is unreachable and the engine fails open."""
    then: Callable[[Sequence[Any], Decision], Sequence[Op]] | None = None
    """Operations that depend on the results and the decision (count a replayed answer as a
    failure, a challenge page shown as pending): run after ``finish`` in a second batch, so
    only the rare case pays a second round trip. If only that batch fails, the decision
    stands."""

    @staticmethod
    def decided(decision: Decision) -> Plan:
        """A plan that needs no storage: ``decision`` whatever happens."""
        return Plan((), lambda _results: decision, lambda: decision)
