"""Pure pieces of the enumeration verdict: walks, the escalation ladder, readable reasons."""

from __future__ import annotations

from collections.abc import Sequence

from ..decision import SEVERITY, Action, Verdict

PERSONAL_LEVELS = frozenset({"account", "clearance", "visitor"})
"""Levels that belong to one person. The others (ip, fingerprint, network) are shared by
innocent people, so counts there only ever challenge: a person proves themselves once and is
then counted on their own clearance."""

LEVEL_TEXT = {"account": "account", "clearance": "clearance", "visitor": "visitor", "ip": "IP",
              "fingerprint": "browser fingerprint", "network": "network"}


def escalate(ratio: float, level: str, cleared: bool, block_factor: float) -> Action | None:
    """Over budget escalates: challenge (not recently cleared), then throttle, then block.

    Shared levels stop at the challenge: fifty colleagues behind one office IP are each asked
    once, and afterwards their clearance (a personal level) is what counts.
    """
    if ratio <= 1.0:
        return None
    if level in PERSONAL_LEVELS:
        if ratio >= block_factor:
            return Action.BLOCK
        return Action.THROTTLE if cleared else Action.CHALLENGE
    return None if cleared else Action.CHALLENGE


def detect_walk(values: Sequence[str], length: int, max_stride: int) -> int | None:
    """The step of a sequential walk over the newest ``length`` ids (newest first), or None.

    A walk is a strictly ascending or strictly descending run whose every step is at most
    ``max_stride``: constant strides (1, 2, 10) and runs that skip deleted ids alike. A person
    who follows links reads ids in no such order, so eight in a row is strong evidence.
    Returns the typical (first) step: positive when ascending.
    """
    if length < 2 or len(values) < length:
        return None
    try:
        newest = int(values[0])
        prev = int(values[1])
    except ValueError:
        return None
    step = newest - prev
    if step == 0 or abs(step) > max_stride:
        return None  # the common case for random reading: two parses and out
    ascending = step > 0
    for value in values[2:length]:
        try:
            current = int(value)
        except ValueError:
            return None
        diff = prev - current
        if (diff > 0) != ascending or diff == 0 or abs(diff) > max_stride:
            return None
        prev = current
    return step


def window_text(seconds: int) -> str:
    """600 -> '10 min', 86400 -> '24 h', 604800 -> '7 days'."""
    if seconds % 86_400 == 0 and seconds > 86_400:
        return f"{seconds // 86_400} days"
    if seconds % 3_600 == 0:
        return f"{seconds // 3_600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def worst(verdicts: list[tuple[float, Verdict]]) -> Verdict | None:
    """The strictest verdict; among equals the one furthest over its budget."""
    if not verdicts:
        return None
    return max(verdicts, key=lambda v: (SEVERITY[v[1].action], v[0]))[1]
