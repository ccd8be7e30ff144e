"""Turn a batch of storage ops into calls of the server-side script, and its replies back into
the result types of ``state.ops`` (pure: no I/O, so it is tested without a server).

The script (``lua/batch.lua``) interprets the whole batch, which is what makes one request cost
one round trip. On a Redis Cluster the keys of one script call must share a hash slot, so a
batch is split into one call per slot (sent together in one pipeline), and a distinct
counter's key and its older bucket's (counted together with PFCOUNT) are given one hash tag.
A :class:`~antiscrape.state.ops.DistinctAddAll` is one record on a single server; on a cluster
its counters usually fall in different slots, so it is split into one part per slot and
:func:`assemble` puts the counts back in the order of its counters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ..errors import StorageError
from .ops import (
    DistinctAddAll,
    Get,
    Hit,
    HitResult,
    Incr,
    Op,
    Pulse,
    PulseResult,
    Put,
    PutIfAbsent,
    Recent,
)

SCRIPT: str = resources.files("antiscrape.state").joinpath("lua/batch.lua").read_text("utf-8")
SCRIPT_SHA: str = hashlib.sha1(SCRIPT.encode("utf-8")).hexdigest()

Arg = str | int


@dataclass(slots=True)
class Call:
    """One script invocation: its keys, its arguments and which ops of the batch it runs."""

    now_arg: str
    keys: list[str] = field(default_factory=list)
    args: list[Arg] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    """The batch position of each op this call runs, in reply order."""
    parts: dict[int, tuple[int, ...]] = field(default_factory=dict)
    """Reply index -> the counters (indices into ``counters``) of a DistinctAddAll split across
    slots whose part this call runs."""

    def argv(self) -> list[Arg]:
        return [self.now_arg, *self.args]


class KeyNamer:
    """Physical key names: every key lives under ``prefix:`` (keys the engine built with
    :class:`antiscrape.keys.Keys` already do), and on a cluster a distinct counter's keys get a
    hash tag so a key and its older bucket share a slot.

    The cluster convention: a counter's key and older key differ only in their last
    ``:``-separated part (the time bucket); everything before it becomes the hash tag.
    """

    __slots__ = ("_head", "cluster")

    def __init__(self, prefix: str, *, cluster: bool = False) -> None:
        self._head = prefix + ":" if prefix else ""
        self.cluster = cluster

    def plain(self, key: str) -> str:
        head = self._head
        return key if key.startswith(head) else head + key

    def distinct(self, key: str) -> str:
        key = self.plain(key)
        if not self.cluster or "{" in key:
            return key
        base, sep, last = key.rpartition(":")
        return f"{{{base}}}:{last}" if sep else key

    def keys_of(self, op: Op) -> tuple[str, ...]:
        t = type(op)
        if t is DistinctAddAll:
            return tuple(k for c in op.counters for k in self.counter_keys(c))  # type: ignore[union-attr]
        return (self.plain(op.key),)  # type: ignore[union-attr]

    def counter_keys(self, counter: tuple[str, int, str]) -> tuple[str, str]:
        """One distinct counter's key and older key, in the order the script reads them."""
        distinct = self.distinct
        return distinct(counter[0]), distinct(counter[2])


def record(op: Op) -> list[Arg]:
    """The op's code and fields, in the order ``batch.lua`` reads them."""
    t = type(op)
    if t is Hit:
        return ["H", op.window, op.limit, op.cost]  # type: ignore[union-attr]
    if t is Incr:
        return ["I", op.ttl, op.amount]  # type: ignore[union-attr]
    if t is Get:
        return ["G"]
    if t is Put:
        return ["P", op.value, op.ttl]  # type: ignore[union-attr]
    if t is PutIfAbsent:
        return ["A", op.value, op.ttl]  # type: ignore[union-attr]
    if t is DistinctAddAll:
        now = op.now  # type: ignore[union-attr]
        out: list[Arg] = ["M", op.member, len(op.counters)]  # type: ignore[union-attr]
        out += (expires - now for _key, expires, _older in op.counters)  # type: ignore[union-attr]
        return out
    if t is Recent:
        return ["R", op.value, op.size, op.ttl]  # type: ignore[union-attr]
    if t is Pulse:
        return ["U", op.amount, op.bucket, repr(op.alpha), repr(op.factor),  # type: ignore[union-attr]
                repr(op.leave), repr(op.floor), op.cooldown, op.ttl,  # type: ignore[union-attr]
                1 if op.learn_guarded else 0]  # type: ignore[union-attr]
    raise TypeError(f"unknown storage operation {op!r}")


def plan(ops: Sequence[Op], now_arg: str, namer: KeyNamer,
         slot_of: Callable[[str], int] | None = None) -> list[Call]:
    """Group the batch into script calls: one call, or one per hash slot on a cluster."""
    if slot_of is None:
        call = Call(now_arg)
        for i, op in enumerate(ops):
            _add(call, i, namer.keys_of(op), op)
        return [call]
    calls: dict[int, Call] = {}
    for i, op in enumerate(ops):
        if type(op) is DistinctAddAll:
            by_slot: dict[int, list[int]] = {}
            for j, counter in enumerate(op.counters):
                by_slot.setdefault(_slot(namer.counter_keys(counter), op, slot_of), []).append(j)
            if len(by_slot) > 1:
                for slot, part in by_slot.items():
                    piece = DistinctAddAll(op.member, tuple(op.counters[j] for j in part), op.now)
                    call = _call_for(calls, slot, now_arg)
                    call.parts[len(call.positions)] = tuple(part)
                    _add(call, i, namer.keys_of(piece), piece)
                continue
        keys = namer.keys_of(op)
        _add(_call_for(calls, _slot(keys, op, slot_of), now_arg), i, keys, op)
    return list(calls.values())


def _slot(keys: Sequence[str], op: Op, slot_of: Callable[[str], int]) -> int:
    """The one hash slot of ``keys`` (the keys of one op, or of one distinct counter)."""
    slot = slot_of(keys[0])
    if any(slot_of(k) != slot for k in keys[1:]):
        raise StorageError(
            f"cluster: the keys {keys[0]!r}... of {type(op).__name__} fall in different hash "
            "slots; an older bucket's key must differ from its counter's key only in the last ':' "
            "part")
    return slot


def _call_for(calls: dict[int, Call], slot: int, now_arg: str) -> Call:
    call = calls.get(slot)
    if call is None:
        call = calls[slot] = Call(now_arg)
    return call


def _add(call: Call, position: int, keys: Sequence[str], op: Op) -> None:
    call.keys.extend(keys)
    call.args.extend(record(op))
    call.positions.append(position)


def _text(raw: Any) -> str:
    return raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else str(raw)


def _texts(raw: Any) -> tuple[str, ...]:
    return tuple(_text(v) for v in raw)


def decode(op: Op, raw: Any) -> Any:
    """One op's reply as the memory backend would have returned it."""
    t = type(op)
    if t is Hit:
        count, reset, counted = _text(raw).split(" ")
        return HitResult(float(count), float(reset), counted == "1")
    if t is Incr:
        return int(raw)
    if t is DistinctAddAll:
        return tuple(int(v) for v in raw)
    if t is Get:
        if raw is None or isinstance(raw, int):
            return raw
        return _text(raw)
    if t is Put:
        return None
    if t is PutIfAbsent:
        return bool(raw)
    if t is Recent:
        return _texts(raw)
    if t is Pulse:
        rate, baseline, since, changed = _text(raw).split(" ")
        return PulseResult(float(rate), float(baseline), float(since), int(changed))
    raise TypeError(f"unknown storage operation {op!r}")


def assemble(ops: Sequence[Op], calls: Sequence[Call], replies: Sequence[Any]) -> list[Any]:
    """Put each call's replies back in batch order (the parts of a split DistinctAddAll back
    in the order of its counters); a malformed reply is a StorageError."""
    results: list[Any] = [None] * len(ops)
    split: list[int] = []
    try:
        for call, reply in zip(calls, replies, strict=True):
            if len(reply) != len(call.positions):
                raise ValueError(f"{len(reply)} replies for {len(call.positions)} ops")
            parts = call.parts
            for n, (pos, raw) in enumerate(zip(call.positions, reply, strict=True)):
                part = parts.get(n) if parts else None
                if part is None:
                    results[pos] = decode(ops[pos], raw)
                    continue
                counts = results[pos]
                if counts is None:
                    counts = results[pos] = [None] * len(ops[pos].counters)  # type: ignore[union-attr]
                    split.append(pos)
                for j, count in zip(part, raw, strict=True):
                    counts[j] = int(count)
        for pos in split:
            results[pos] = tuple(results[pos])
    except (ValueError, TypeError, AttributeError) as exc:
        raise StorageError(f"redis: unexpected reply from the batch script: {exc}") from exc
    return results
