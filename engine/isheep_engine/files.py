"""File helpers: JSONL reading with line numbers, and writes that a reader never sees half done."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from .protocol import BadInput


def read_jsonl(path: str) -> list[tuple[int, dict[str, Any]]]:
    """Returns (line number, object) for each non-blank line; a bad line is bad_input naming file and line."""
    if not os.path.isfile(path):
        raise BadInput(f"input file {path} does not exist" if not os.path.exists(path) else f"{path} is not a file")
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BadInput(f"{path} line {lineno}: invalid JSON ({exc.msg} at column {exc.colno})") from exc
                if not isinstance(obj, dict):
                    raise BadInput(f"{path} line {lineno}: expected a JSON object, got {type(obj).__name__}")
                rows.append((lineno, obj))
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from exc
    return rows


def dumps_row(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False) + "\n"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _public(path: str, mode: int) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries: give them the usual umask-based mode."""
    os.chmod(path, mode & ~_umask())


def fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_jsonl_atomic(path: str, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows to a temporary file beside ``path``, fsync, then rename over it."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        _public(tmp, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(dumps_row(row))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(folder)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path: str, obj: Any) -> None:
    folder = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        _public(tmp, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextmanager
def staged_dir(final: str) -> Iterator[str]:
    """Yield a fresh temporary folder beside ``final``; on clean exit it is renamed to ``final``.

    ``final`` must not exist or be an empty folder. On failure the temporary folder is removed.
    """
    parent = os.path.dirname(os.path.abspath(final))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(final)}.", suffix=".tmp", dir=parent)
    try:
        _public(tmp, 0o777)
        yield tmp
        for root, dirs, names in os.walk(tmp):
            for d in dirs:
                _public(os.path.join(root, d), 0o777)
            for n in names:
                _public(os.path.join(root, n), 0o666)
        if os.path.isdir(final) and not os.listdir(final):
            os.rmdir(final)
        os.replace(tmp, final)
        fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sha256_file(path: str, chunk: int = 1 << 20) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()
