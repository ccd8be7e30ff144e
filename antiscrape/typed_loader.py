"""Build nested dataclasses from plain dicts, checking every value against the type hints.

One loader serves every config section, so each section is just a dataclass with defaults and
docstrings, and every error names its full key path and the type that was expected.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from .errors import ConfigError

T = TypeVar("T")

_NONE = type(None)


def _describe(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " or ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(a) for a in get_args(tp))
    if origin in (list, tuple):
        return f"list of {_describe(get_args(tp)[0])}"
    if origin is dict:
        return f"table of {_describe(get_args(tp)[1])}"
    if dataclasses.is_dataclass(tp):
        return "table"
    if tp is _NONE:
        return "nothing"
    return {int: "integer", float: "number", str: "string", bool: "boolean"}.get(tp, str(tp))


def _convert(value: Any, tp: Any, path: str) -> Any:
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise ConfigError(path, f"expected {_describe(tp)}, got {value!r}")
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and _NONE in args:
            return None
        errors = []
        for arg in args:
            if arg is _NONE:
                continue
            try:
                return _convert(value, arg, path)
            except ConfigError as exc:
                errors.append(exc)
        raise ConfigError(path, f"expected {_describe(tp)}, got {type(value).__name__} {value!r}")
    if origin in (list, tuple):
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise ConfigError(path, f"expected {_describe(tp)}, got {type(value).__name__}")
        (item_tp, *_) = get_args(tp)
        items = [_convert(v, item_tp, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected {_describe(tp)}, got {type(value).__name__}")
        key_tp, val_tp = get_args(tp)
        return {
            _convert(k, key_tp, f"{path}.{k}"): _convert(v, val_tp, f"{path}.{k}")
            for k, v in value.items()
        }
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(path, f"expected a table, got {type(value).__name__}")
        return load(tp, value, path)
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    elif isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(path, f"expected {_describe(tp)}, got {type(value).__name__} {value!r}")


def load(cls: type[T], data: dict[str, Any], path: str = "") -> T:
    """Build ``cls`` from ``data``; unknown keys and wrong types raise :class:`ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(path, f"expected a table, got {type(data).__name__}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        sub = f"{path}.{key}" if path else str(key)
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise ConfigError(sub, f"unknown key (known keys here: {known})")
        kwargs[key] = _convert(value, hints[key], sub)
    for name, spec in fields.items():
        if name not in kwargs and spec.default is dataclasses.MISSING and \
                spec.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{path}.{name}" if path else name, "required")
    try:
        obj = cls(**kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(path, str(exc)) from exc
    check = getattr(obj, "validate", None)
    if check is not None:
        check(path)
    return obj


def dump(obj: Any) -> Any:
    """The inverse of :func:`load`: plain dicts, lists and scalars (for ``antiscrape check``)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: dump(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
    if isinstance(obj, tuple | list):
        return [dump(v) for v in obj]
    if isinstance(obj, dict):
        return {k: dump(v) for k, v in obj.items()}
    return obj


__all__ = ["dump", "load", "typing"]
