"""Reading and checking a job's JSON spec against the job's pydantic model (import_model.ImportModelSpec,
generate.GenerateSpec, train.TrainSpec; their JSON Schemas are committed in engine/schemas/, see schemas.py).

Models are strict (SpecModel): an unknown key, a missing required key, a wrong type (no coercion: "8" is not 8,
true is not 1, 2.0 is not an integer; an integer is a number) or a value out of range is bad_input, before any
model loads. The message names the spec file and every bad field by its path, e.g.
    spec s.json: sampling.top_p: must be <= 1 (got 2); batchsize: unknown key (allowed here: backend, ...)
import-model, generate and train get the checked spec as a plain dict with every default filled in (load_spec:
model_dump), the dict they were written against and the one their fingerprints are made from; read_spec and
validate give the model instance instead.
"""

from __future__ import annotations

import json
import os
import typing
from typing import Annotated, Any, Callable, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, WithJsonSchema, WrapValidator
from pydantic_core import PydanticCustomError

from .protocol import BadInput

CHECK = "isheep_check"  # the error type of the checks below: their message is the whole complaint


class SpecModel(BaseModel):
    """A spec object: unknown keys refused, no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True)


def check(ok: Callable[[Any], bool], complaint: str) -> AfterValidator:
    """A check the types cannot say: ``complaint`` when ``ok(value)`` is false."""
    def run(value: Any) -> Any:
        if not ok(value):
            raise PydanticCustomError(CHECK, complaint)
        return value

    return AfterValidator(run)


def explained(complaint: str) -> WrapValidator:
    """Any failure of the wrapped type is ``complaint`` (one clear sentence instead of one per member of a union)."""
    def run(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError(CHECK, complaint) from None

    return WrapValidator(run)


AbsolutePath = Annotated[str, check(os.path.isabs, "path must be absolute"),
                         WithJsonSchema({"type": "string", "pattern": "^/", "description": "an absolute path"})]


# ---------------------------------------------------------------- reading a spec

M = TypeVar("M", bound=BaseModel)


def load_spec(path: str, model: type[SpecModel]) -> dict[str, Any]:
    """The spec file at ``path`` checked against ``model``, as a dict with defaults filled in (what the jobs use)."""
    return read_spec(path, model).model_dump()


def check_spec(data: Any, model: type[SpecModel], where: str = "spec") -> dict[str, Any]:
    """``data`` checked against ``model``, as a dict with defaults filled in; bad_input naming every bad field."""
    return validate(model, data, where).model_dump()


def read_spec(path: str, model: type[M]) -> M:
    """The spec file at ``path`` as an instance of ``model``; bad_input when unreadable, not JSON, or bad."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise BadInput(f"cannot read spec {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"spec {path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    return validate(model, data, f"spec {os.path.basename(path)}")


def validate(model: type[M], data: Any, where: str) -> M:
    """``data`` as an instance of ``model``; bad_input "WHERE: path: complaint; ..." naming every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"{where}: {'; '.join(problems(exc, model))}") from None


# ---------------------------------------------------------------- error messages

_EXPECTED = {"int_type": "an integer", "float_type": "a number", "string_type": "a string", "bool_type": "a boolean",
             "list_type": "an array", "model_type": "an object", "dict_type": "an object",
             "model_attributes_type": "an object", "none_required": "null"}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="), "less_than": ("lt", "<"),
           "less_than_equal": ("le", "<=")}


def _submodel(annotation: Any) -> type[BaseModel] | None:
    """The spec model inside a field's type (through Optional, unions and Annotated), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _submodel(arg)
        if found is not None:
            return found
    return None


def _walk(loc: tuple[Any, ...], model: type[BaseModel], extra: bool) -> tuple[str, type[BaseModel] | None]:
    """The field path of an error's loc (union member tags left out) and the model the last key belongs to."""
    path, current, parent = "", model, model
    for i, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        fields = current.model_fields if current is not None else {}
        if part in fields or (extra and i == len(loc) - 1):  # an unknown key is no field of its model
            path += ("." if path else "") + part
            parent = current
            current = _submodel(fields[part].annotation) if part in fields else None
        # else: the tag of a union member ("int", "literal['auto']"), no part of the spec's shape
    return path, parent


def _got(value: Any) -> str:
    try:
        return json.dumps(value)[:80]
    except (TypeError, ValueError):
        return repr(value)[:80]


def _number(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() else v  # a bound of 1 says 1, not 1.0


def _constraint(e: dict[str, Any]) -> str | None:
    """The complaint of a failed check or bound, None for a type error."""
    kind, ctx = e["type"], e.get("ctx") or {}
    if kind == CHECK:
        return e["msg"]
    if kind in _BOUNDS:
        key, op = _BOUNDS[kind]
        return f"must be {op} {_number(ctx.get(key))}"
    if kind in ("too_short", "string_too_short"):
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must have at least {least} {'items' if kind == 'too_short' else 'characters'}"
    if kind in ("too_long", "string_too_long"):
        return f"must have at most {ctx.get('max_length')} {'items' if kind == 'too_long' else 'characters'}"
    if kind in _EXPECTED or kind == "literal_error":
        return None
    return e["msg"]  # pydantic's own words for anything else


def problems(exc: ValidationError, model: type[BaseModel]) -> list[str]:
    """One line per bad field, in the order pydantic found them."""
    groups: dict[str, list[dict[str, Any]]] = {}
    parents: dict[str, type[BaseModel] | None] = {}
    for e in exc.errors(include_url=False):
        path, parent = _walk(tuple(e["loc"]), model, e["type"] == "extra_forbidden")
        groups.setdefault(path, []).append(e)
        parents[path] = parent
    lines = []
    for path, errors in groups.items():
        label = f"{path}: " if path else ""
        first = errors[0]
        if first["type"] == "extra_forbidden":
            allowed = ", ".join(sorted(parents[path].model_fields)) if parents[path] is not None else ""
            lines.append(f"{label}unknown key (allowed here: {allowed})")
            continue
        if first["type"] == "missing":
            lines.append(f"{label}required, but missing")
            continue
        complaints = list(dict.fromkeys(c for c in map(_constraint, errors) if c))
        if complaints:  # the value has a right type but breaks a bound or a check
            lines.append(f"{label}{'; '.join(complaints)} (got {first['input']!r})")
            continue
        choices = [e["ctx"]["expected"] for e in errors if e["type"] == "literal_error"]
        types = [_EXPECTED[e["type"]] for e in errors if e["type"] in _EXPECTED]
        if choices and not types:
            lines.append(f"{label}{first['input']!r} is not one of {', '.join(choices)}")
        else:
            lines.append(f"{label}expected {' or '.join(dict.fromkeys(choices + types))}, got {_got(first['input'])}")
    return lines
