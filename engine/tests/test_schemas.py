"""The committed JSON Schemas of the job specs (engine/schemas/) are the ones the spec models make now.
Stale? Regenerate: cd engine && PYTHONPATH=. python -m isheep_engine.schemas"""

import json
import os

import pytest

from isheep_engine import schemas


@pytest.mark.parametrize("job", sorted(schemas.SPECS))
def test_committed_schema_is_current(job):
    path = schemas.path(job)
    assert os.path.isfile(path), f"{path} is missing; run: cd engine && PYTHONPATH=. python -m isheep_engine.schemas"
    with open(path, encoding="utf-8") as fh:
        committed = fh.read()
    assert committed == schemas.text(job), \
        f"{path} is stale; run: cd engine && PYTHONPATH=. python -m isheep_engine.schemas"


def test_schemas_refuse_unknown_keys_at_every_level():
    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object":
                assert node.get("additionalProperties") is False, node.get("title")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for job in schemas.SPECS:
        walk(json.loads(schemas.text(job)))
