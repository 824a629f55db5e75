"""What a generate backend is: the interface between the generate job (generate.py: the spec, the lock, resume,
the output) and the code that turns request rows into result rows.

A backend is built from the checked spec (a dict, see generate.GenerateSpec; building it loads the model, or
checks the endpoint's key) and then asked once to run:

    backend.run(requests, sink) -> seconds spent generating

It must generate every request whose id is not in sink.done, hand each finished row (rows.make_row) to
sink.add() in any order, call sink.commit() now and then (it rate-limits itself: fsync and a progress event) and
sink.commit(force=True) at the end. Rows in sink.done are kept from an earlier run and must not be generated
again. The backends: transformers_backend.py, vllm_backend.py, openai_backend.py; none of them imports generate.py.
"""

from __future__ import annotations

from typing import Any, Protocol

from .rows import Request


class Sink(Protocol):
    """Where finished rows go (partial.PartialWriter)."""

    done: dict[str, dict[str, Any]]  # id -> row, the earlier run's rows included

    def add(self, row: dict[str, Any]) -> None: ...

    def commit(self, force: bool = False) -> None: ...


class Backend(Protocol):
    def run(self, requests: list[Request], sink: Sink) -> float:
        """Generates the rows not in sink.done; returns the seconds spent generating."""
        ...
