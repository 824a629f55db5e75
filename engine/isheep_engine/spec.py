"""Reading and checking a job's JSON spec: unknown keys, missing keys and wrong types are bad_input."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable

from .protocol import BadInput

_REQUIRED = object()


@dataclass
class Field:
    """One spec key: its accepted Python types, default (absent = required) and an optional check."""

    types: tuple[type, ...]
    default: Any = _REQUIRED
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], str | None] | None = None  # returns a complaint or None
    nullable: bool = False
    fields: dict[str, "Field"] | None = None  # for a nested object
    path: bool = False  # an absolute filesystem path

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


def path_field(**kw: Any) -> Field:
    return Field((str,), path=True, **kw)


def obj(fields: dict[str, Field], **kw: Any) -> Field:
    return Field((dict,), fields=fields, default=kw.pop("default", {}), **kw)


def positive(v: Any) -> str | None:
    return None if v > 0 else "must be > 0"


def non_negative(v: Any) -> str | None:
    return None if v >= 0 else "must be >= 0"


def fraction(v: Any) -> str | None:
    return None if 0 <= v < 1 else "must be in [0, 1)"


def _type_ok(value: Any, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool) and bool not in types:
        return False  # JSON true is not a number
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, types)


def _type_name(types: tuple[type, ...]) -> str:
    names = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def check_object(data: Any, fields: dict[str, Field], where: str) -> dict[str, Any]:
    """Validate ``data`` against ``fields``; returns a new dict with defaults filled in."""
    if not isinstance(data, dict):
        raise BadInput(f"{where}: expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise BadInput(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(fields))}")
    missing = sorted(k for k, f in fields.items() if f.required and k not in data)
    if missing:
        raise BadInput(f"{where}: missing required key(s) {', '.join(map(repr, missing))}")
    out: dict[str, Any] = {}
    for name, f in fields.items():
        label = f"{where}.{name}"
        if name not in data:
            value = f.default
            if f.fields is not None and value is not None:  # a nested object with defaults (None: optional)
                value = check_object(dict(value), f.fields, label)
            out[name] = value
            continue
        value = data[name]
        if value is None:
            if not f.nullable:
                raise BadInput(f"{label}: must not be null")
            out[name] = None
            continue
        if not _type_ok(value, f.types):
            raise BadInput(f"{label}: expected {_type_name(f.types)}, got {json.dumps(value)[:80]}")
        if float in f.types and isinstance(value, int):
            value = float(value) if int not in f.types else value
        if f.choices is not None and value not in f.choices:
            raise BadInput(f"{label}: {value!r} is not one of {', '.join(map(repr, f.choices))}")
        if f.path and not os.path.isabs(value):
            raise BadInput(f"{label}: path must be absolute, got {value!r}")
        if f.check is not None:
            complaint = f.check(value)
            if complaint:
                raise BadInput(f"{label}: {complaint} (got {value!r})")
        if f.fields is not None:
            value = check_object(value, f.fields, label)
        out[name] = value
    return out


def load_spec(path: str, fields: dict[str, Field]) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise BadInput(f"cannot read spec {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"spec {path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    return check_object(data, fields, f"spec {os.path.basename(path)}")
