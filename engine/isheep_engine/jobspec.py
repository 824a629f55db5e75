"""A job's JSON spec read into a pydantic model: a spec that is not JSON, an unknown key, a missing key, a wrong
type or a failed check is bad_input naming the field (``spec s.json: timeout_s: Input should be greater than 0``).

Models derive from ``JobSpec`` (extra keys forbidden, strict types: JSON ``"8"`` is not the integer 8, ``true``
is not a number) and declare file paths as ``AbsolutePath``.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from .protocol import BadInput


def _absolute(value: str) -> str:
    if not os.path.isabs(value):
        raise PydanticCustomError("absolute_path", "path must be absolute")
    return value


AbsolutePath = Annotated[str, AfterValidator(_absolute)]


class JobSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


M = TypeVar("M", bound=BaseModel)


def describe(exc: ValidationError) -> str:
    """One clause per problem: the field's dotted path, what is wrong, and the value given (when short)."""
    clauses = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        clause = f"{where}: {err['msg']}"
        if err["type"] not in ("missing", "extra_forbidden") and not isinstance(err.get("input"), (dict, list)):
            clause += f" (got {json.dumps(err.get('input'), default=str)[:80]})"
        clauses.append(clause)
    return "; ".join(clauses)


def validate(model: type[M], data: Any, where: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"{where}: {describe(exc)}") from None


def load(path: str, model: type[M]) -> M:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise BadInput(f"cannot read spec {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"spec {path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(data, dict):
        raise BadInput(f"spec {path}: expected a JSON object, got {type(data).__name__}")
    return validate(model, data, f"spec {os.path.basename(path)}")
