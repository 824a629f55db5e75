"""File helpers: JSONL reading with line numbers, writes that a reader never sees half done, and an exclusive
lock per output."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from .protocol import EngineError, BadInput

LOCK_WAIT_ENV = "ISHEEP_ENGINE_LOCK_WAIT_S"
LOCK_WAIT_S = 120.0
LOCK_REPORT_EVERY_S = 5.0
LOCK_POLL_S = 0.2


def lock_wait_s() -> float:
    raw = os.environ.get(LOCK_WAIT_ENV)
    if raw:
        try:
            return max(0.0, float(raw))
        except ValueError:
            print(f"ignoring {LOCK_WAIT_ENV}={raw!r}: not a number", file=sys.stderr)
    return LOCK_WAIT_S


@contextmanager
def exclusive_lock(path: str, wait_s: float | None = None) -> Iterator[None]:
    """Hold flock(LOCK_EX) on ``path`` (created if missing) for the block.

    One job at a time works on an output: a second one waits, sending {"stage": "waiting for lock"} progress
    every few seconds, and after ``wait_s`` (ISHEEP_ENGINE_LOCK_WAIT_S, default 120 s) fails with kind
    ``crashed`` so that the caller retries later. The kernel drops the lock when its holder dies, however it
    dies. The file is removed on the way out while still held; a waiter that then gets the lock on the removed
    file notices (the path no longer names the file it locked) and takes the lock again on the new one.
    """
    import fcntl

    from . import protocol

    wait_s = lock_wait_s() if wait_s is None else wait_s
    started = time.monotonic()
    next_report = started
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    now = time.monotonic()
                    if now - started >= wait_s:
                        raise EngineError(f"another job holds {path} (waited {round(now - started)} s); "
                                          "retry when it has finished or died") from None
                    if now >= next_report:
                        protocol.progress(stage="waiting for lock", lock=path, waited_s=round(now - started, 1))
                        next_report = now + LOCK_REPORT_EVERY_S
                    time.sleep(min(LOCK_POLL_S, max(0.0, wait_s - (now - started)) + 0.01))
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                break
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder removed it as we waited: lock the file that is there now
    try:
        yield
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass
        os.close(fd)


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


def write_jsonl_atomic(path: str, rows: Iterable[dict[str, Any]],
                       before_rename: Callable[[str], None] | None = None) -> None:
    """Write rows to a temporary file beside ``path``, fsync, then rename over it; ``before_rename`` is called with
    the finished temporary file's path just before the rename (to record something about it first)."""
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
        if before_rename is not None:
            before_rename(tmp)
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


def stale_name(path: str, taken: Any = os.path.lexists) -> str:
    """A free name PATH.stale-<UTC time>[-N] to set a stale file or folder aside under: nothing is overwritten."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target, n = f"{path}.stale-{stamp}", 1
    while taken(target):
        n += 1
        target = f"{path}.stale-{stamp}-{n}"
    return target

