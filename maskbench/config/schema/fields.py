"""Field declarations that carry their own checks, and the one checker that reads them.

A schema field is a dataclass field whose metadata says what values it allows (`low`, `high`,
`above`, `below`, `choices`, `prob`). OmegaConf enforces the field's type when a config is merged into the
schema; `check_fields` enforces the rest, so every rule sits next to the field it is about and every
refusal is one line that names the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import typing

from maskbench.errors import MaskbenchError

_MISSING = dataclasses.MISSING


def option(default=_MISSING, *, factory=None, low=None, above=None, high=None, below=None, choices=None,
           prob=False, number=False, hint: str = ""):
    """A schema field: `low`/`high` are inclusive bounds, `above`/`below` exclusive ones, `choices` the allowed
    values, `prob` a probability in [0, 1], `number` an int or a float (for `Any` fields: a count or a
    fraction); `hint` is appended to the refusal (e.g. what null means)."""
    meta = {"low": low, "above": above, "high": high, "below": below, "choices": choices, "prob": prob,
            "number": number, "hint": hint}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def is_int(x) -> bool:
    """An integer and not a bool (YAML's true is an int to Python)."""
    return isinstance(x, int) and not isinstance(x, bool)


def _kind(tp) -> str:
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    base = args[0] if args else tp
    return "an integer" if base is int else "a number"


def _refuse(key: str, value, allowed: str, hint: str) -> MaskbenchError:
    shown = str(value).lower() if isinstance(value, bool) else value
    return MaskbenchError(f"{key}={shown} {allowed}" + (f" ({hint})" if hint else ""))


# Past this an integer no longer fits the int64 that torch, numpy and the seeds take.
INT_LIMIT = 2 ** 63


def _check_size(key: str, value, hint: str) -> None:
    """Every number a config holds is finite and fits 64 bits (nan would compare false with every bound); no
    text holds a NUL byte (no path or name can)."""
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_size(key, item, hint)
        return
    if isinstance(value, str) and "\x00" in value:
        raise MaskbenchError(f"{key} holds a NUL byte, which no name or path can: remove it")
    if isinstance(value, float) and not math.isfinite(value):
        raise _refuse(key, value, "must be a finite number", hint)
    if is_int(value) and not -INT_LIMIT < value < INT_LIMIT:
        raise _refuse(key, f"{value:.3g}" if abs(value) < 10 ** 300 else "(a huge number)",
                      "is too large: it must fit 64 bits", hint)


_PLAIN = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _fits(value, tp) -> str | None:
    """None when `value` is of the declared type `tp`, else what it should be. OmegaConf checks a field's own
    type at a merge but not the items of a list or mapping inside it (['a', [1]] passes as a List[str])."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is typing.Any or value is None and type(None) in args:
        return None
    if origin is typing.Union:
        wants = [_fits(value, a) for a in args if a is not type(None)]
        return None if None in wants else wants[0]
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return "a list"
        return next((f"a list of {w.removeprefix('a ').removeprefix('an ')}s" if w in _PLAIN.values() else
                     f"a list whose items are {w}" for w in (_fits(v, args[0]) for v in value) if w), None) \
            if args else None
    if origin is dict:
        if not isinstance(value, dict):
            return "a mapping, e.g. {name: value}"
        return next((f"a mapping whose values are {w}" for w in (_fits(v, args[1]) for v in value.values()) if w),
                    None) if len(args) == 2 else None
    if tp in _PLAIN:
        ok = isinstance(value, bool) if tp is bool else \
            isinstance(value, (int, float)) and not isinstance(value, bool) if tp is float else \
            is_int(value) if tp is int else isinstance(value, str)
        return None if ok else _PLAIN[tp]
    return None  # a nested schema or another class: checked by its own fields


def _shown(value) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 60 else text[:57] + "..."


def check_fields(obj, prefix: str) -> None:
    """Check every field of a schema object against its declared type (items of lists and mappings included),
    bounds and choices."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value, meta, key = getattr(obj, f.name), f.metadata, f"{prefix}{f.name}"
        if value is None:
            continue
        hint = meta.get("hint", "")
        if not dataclasses.is_dataclass(value) and (want := _fits(value, hints[f.name])):
            raise MaskbenchError(f"{key}={_shown(value)} must be {want}" + (f" ({hint})" if hint else ""))
        _check_size(key, value, hint)
        if not meta:
            continue
        if meta.get("number") and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise _refuse(key, value, "must be a number", hint)
        if meta.get("choices") is not None and value not in meta["choices"]:
            raise _refuse(key, value, f"is unknown: choose {', '.join(map(str, meta['choices']))}", hint)
        if meta.get("prob") and not 0.0 <= value <= 1.0:
            raise _refuse(key, value, "is not a probability: give a value in [0, 1]", hint)
        kind = _kind(hints[f.name])
        if meta.get("low") is not None and value < meta["low"]:
            raise _refuse(key, value, f"must be {kind} >= {meta['low']}", hint)
        if meta.get("above") is not None and not value > meta["above"]:
            raise _refuse(key, value, f"must be {kind} > {meta['above']}", hint)
        if meta.get("high") is not None and value > meta["high"]:
            raise _refuse(key, value, f"must be {kind} <= {meta['high']}", hint)
        if meta.get("below") is not None and not value < meta["below"]:
            raise _refuse(key, value, f"must be {kind} below {meta['below']}", hint)


def schema_node(schema):
    """A schema class or object as an OmegaConf node that values can be merged into. The schemas are frozen
    dataclasses (a config is a value), which OmegaConf turns into read-only nodes, nested ones included;
    this node is typed like them but open, so that a merge can fill it."""
    from omegaconf import DictConfig, OmegaConf

    node = OmegaConf.structured(schema)

    def open_all(n):
        OmegaConf.set_readonly(n, False)
        for key in n:
            child = n._get_node(key)  # the child node itself (no value conversion)
            if isinstance(child, DictConfig) and not child._is_none():
                open_all(child)
    open_all(node)
    return node
