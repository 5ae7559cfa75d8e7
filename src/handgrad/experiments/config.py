"""An experiment's config from its defaults, ``--quick``, ``--set key=value`` and ``--seed``.

Every experiment has one frozen config dataclass whose defaults are the full run and whose
``__post_init__`` validates each field (type, range, finite numbers), naming the field in its
errors. :func:`resolve_config` builds the config of one run, the later source winning:

1. the dataclass defaults (the full run);
2. the experiment's ``quick`` overrides, with ``quick=True``;
3. ``key=value`` overrides (``--set``), each parsed by the type of its field (:func:`parse_value`);
4. ``seed``, when given (``--seed``).

Parsing by field type: ``int`` (``12``), ``float`` (``0.01``, ``1e-3``), ``bool`` (``true``/
``false``, ``yes``/``no``, ``1``/``0``), ``str`` (as written), and ``tuple[int, ...]``,
``tuple[float, ...]``, ``tuple[str, ...]`` as comma-separated lists (``lags=2,5,10``; an empty
value is the empty tuple). An unknown key is a ``ValueError`` that names it and lists the valid
keys; a value that does not parse names its key too.

A config goes to and from JSON with :func:`config_to_dict` and :func:`config_from_dict` (tuples
become lists and back).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "config_from_dict",
    "config_to_dict",
    "parse_overrides",
    "parse_value",
    "resolve_config",
]

_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


def _check_config_type(config_type: Any) -> None:
    if not (isinstance(config_type, type) and dataclasses.is_dataclass(config_type)):
        raise TypeError(f"config_type must be a dataclass type; got {config_type!r}")


def _field_types(config_type: type) -> dict[str, Any]:
    """``{field name: resolved type}`` of a config dataclass, in field order."""
    hints = typing.get_type_hints(config_type)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_type) if f.init}


def _parse_scalar(kind: Any, text: str, key: str) -> Any:
    text = text.strip()
    if kind is bool:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"{key} must be true or false; got {text!r}")
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{key} must be an integer; got {text!r}") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{key} must be a number; got {text!r}") from None
    if kind is str:
        return text
    raise ValueError(f"{key} cannot be set as key=value (its type is {kind!r})")


def parse_value(field_type: Any, text: str, key: str) -> Any:
    """Parse ``text`` as a value of ``field_type`` (see the module docstring).

    Raises ``ValueError`` naming ``key`` when ``text`` does not parse, or when the type is not one
    that can be written as ``key=value``.
    """
    origin = typing.get_origin(field_type)
    if origin is tuple:
        args = typing.get_args(field_type)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise ValueError(f"{key} cannot be set as key=value (its type is {field_type!r})")
        parts = [p for p in text.split(",") if p.strip()]
        try:
            return tuple(_parse_scalar(args[0], p, key) for p in parts)
        except ValueError as exc:
            raise ValueError(f"{exc} (a comma-separated list such as 1,2,3)") from None
    if origin in (typing.Union, types.UnionType):
        raise ValueError(f"{key} cannot be set as key=value (its type is {field_type!r})")
    return _parse_scalar(field_type, text, key)


def parse_overrides(config_type: type, items: Sequence[str]) -> dict[str, Any]:
    """``["steps=10", "lags=2,5"]`` -> ``{"steps": 10, "lags": (2, 5)}``, by the fields' types.

    Raises ``ValueError`` for an item without ``=``, a key given twice, an unknown key (the
    message lists the valid keys) or a value that does not parse (the message names the key).
    """
    _check_config_type(config_type)
    fields = _field_types(config_type)
    parsed: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set expects key=value; got {item!r}")
        if key not in fields:
            raise ValueError(f"--set: unknown key {key!r}; valid keys: {', '.join(sorted(fields))}")
        if key in parsed:
            raise ValueError(f"--set: key {key!r} is given twice")
        parsed[key] = parse_value(fields[key], text, key)
    return parsed


def resolve_config(
    config_type: type,
    *,
    quick_overrides: Mapping[str, Any] | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    seed: int | None = None,
) -> Any:
    """The config of one run: defaults, then ``quick_overrides``, ``overrides``, ``seed``.

    Parameters
    ----------
    config_type : dataclass type
        The experiment's config (validated in its ``__post_init__``); it has a field ``seed``.
    quick_overrides : mapping, optional
        Field values of the ``--quick`` run (``None``: the full run).
    overrides : sequence of "key=value" strings, or a mapping of field values
        The ``--set`` items (strings are parsed by field type; a mapping is taken as is).
    seed : int, optional
        Replaces ``config.seed``.

    Raises
    ------
    ValueError, TypeError
        For an unknown key or a value that does not parse (naming the key), and whatever the
        config's own validation raises (naming the field).
    """
    _check_config_type(config_type)
    fields = _field_types(config_type)
    values: dict[str, Any] = {}
    for key, value in (quick_overrides or {}).items():
        if key not in fields:
            raise ValueError(f"quick override {key!r} is not a field of {config_type.__name__}")
        values[key] = value
    if isinstance(overrides, Mapping):
        for key in overrides:
            if key not in fields:
                raise ValueError(f"unknown key {key!r}; valid keys: {', '.join(sorted(fields))}")
        values.update(overrides)
    else:
        values.update(parse_overrides(config_type, overrides))
    if seed is not None:
        values["seed"] = seed
    return config_type(**values)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config as a JSON-ready dict, field by field (tuples become lists)."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError(f"config must be a dataclass instance; got {type(config).__name__}")
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def config_from_dict(config_type: type, data: Mapping[str, Any]) -> Any:
    """Inverse of :func:`config_to_dict`: lists become tuples where the field is a tuple."""
    _check_config_type(config_type)
    fields = _field_types(config_type)
    values = {}
    for key, value in data.items():
        if key not in fields:
            raise ValueError(f"unknown key {key!r}; valid keys: {', '.join(sorted(fields))}")
        is_tuple = typing.get_origin(fields[key]) is tuple
        values[key] = tuple(value) if is_tuple and isinstance(value, list) else value
    return config_type(**values)
