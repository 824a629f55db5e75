"""Cheap names for what a job's result is made from, so that a re-run can tell whether earlier work (a partial
file, checkpoints, a finished output) was made from the same things: a data file by its bytes, a model folder
by its files' names, sizes and modification times.

A model folder is named by stat rather than by its bytes (a 7B model is tens of GB to hash) and rather than by
the isheep marker inside it (isheep-import.json / isheep-train.json): a marker tells what the engine once wrote
there, not what is there now (weights replaced by hand or by another tool keep their marker, and a folder given
as is has none), while any rewrite of any file changes its size or mtime. Erring that way costs a regeneration
(earlier work is set aside, never deleted), not rows of another model. The price: a copy that does not keep
modification times (cp without -p) counts as another model; a move or rename does not (paths are relative).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from .files import sha256_file

MISSING = "missing"  # the identity of a path that does not exist: the job itself reports that, in its own words


def digest(obj: Any) -> str:
    """sha256 of a JSON value, keys sorted: equal values, equal digests."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def file_sha256(path: str) -> str:
    """The sha256 of a file's bytes, or MISSING when it is not a readable file."""
    try:
        return sha256_file(path)
    except OSError:
        return MISSING


def _visible_files(folder: str) -> list[str]:
    """Relative paths of the folder's files, sorted; hidden entries (locks, temporary files of atomic writes,
    the hub's .cache) are left out, since they come and go without changing the model."""
    found = []
    for root, dirs, names in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found.extend(os.path.relpath(os.path.join(root, n), folder) for n in names if not n.startswith("."))
    return sorted(found)


def model_identity(path: str) -> str:
    """sha256 over the sorted (relative path, size, mtime_ns) of a model folder's files (of the file itself for a
    single file); MISSING when nothing is there."""
    if os.path.isfile(path):
        st = os.stat(path)
        return digest([[os.path.basename(path), st.st_size, st.st_mtime_ns]])
    if not os.path.isdir(path):
        return MISSING
    entries = []
    for rel in _visible_files(path):
        try:
            st = os.stat(os.path.join(path, rel))  # follows links: a hub snapshot's files are links to blobs
        except OSError:
            continue  # a dangling link is no file of the model
        entries.append([rel, st.st_size, st.st_mtime_ns])
    return digest(entries)
