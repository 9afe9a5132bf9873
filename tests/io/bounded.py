"""Run one read in a child process under a time and an address-space bound, and say what happened.

A reader that believes a hostile header either loops (LAS VLR counts) or allocates gigabytes (a
PCD point count, a million-column text line); in-process, such a test would hang or take the test
worker down. In a child with ``RLIMIT_AS`` = its size at start + ``memory`` and an alarm after
``seconds``, it ends as ``Outcome("timeout")`` or ``Outcome("MemoryError", ...)`` instead, which a
test can assert against.

Children come from a fork server (a clean, single-threaded process started once), never from the
test process itself: a fork of a process whose open3d, lazrs or OpenMP thread pools are running can
deadlock in the child.
"""

from __future__ import annotations

import multiprocessing
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Outcome", "run_bounded", "read_summary"]

_CONTEXT = multiprocessing.get_context("forkserver")
# what the children need, loaded once in the server: mesh sampling runs the network's FPS (torch)
_CONTEXT.set_forkserver_preload(
    [
        "numpy",
        "pytest",
        "torch",
        "open3d",
        "laspy",
        "pointea.io",
        "pointea.layers.sampling",
        "tests.io.bounded",
    ]
)


@dataclass(frozen=True)
class Outcome:
    """``kind``: ``"ok"`` (``value`` is what the function returned), ``"timeout"``, ``"crash"``
    (the child died of a signal), or the name of the exception raised, with its message."""

    kind: str
    message: str = ""
    value: Any = None
    seconds: float = 0.0


def _address_space() -> int:
    with open("/proc/self/statm") as stream:
        return int(stream.read().split()[0]) * resource.getpagesize()


def _child(
    connection: Any, function: Callable[..., Any], args: tuple, seconds: float, memory: int
) -> None:
    limit = _address_space() + memory
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    signal.alarm(max(1, round(seconds)))
    try:
        outcome = Outcome("ok", value=function(*args))
    except BaseException as error:  # noqa: BLE001 - reported to the parent
        outcome = Outcome(type(error).__name__, str(error))
    connection.send(outcome)
    connection.close()


def run_bounded(
    function: Callable[..., Any], *args: Any, seconds: float = 20, memory: int = 1 << 30
) -> Outcome:
    """``function(*args)`` in a child: at most ``seconds`` of wall time, ``memory`` more bytes.

    ``function`` must be importable (module level) and what it returns must pickle (a summary,
    not a big array).
    """
    receive, send = _CONTEXT.Pipe(duplex=False)
    start = time.monotonic()
    child = _CONTEXT.Process(target=_child, args=(send, function, args, seconds, memory))
    child.start()
    send.close()
    outcome = None
    if receive.poll(seconds + 10):
        try:
            outcome = receive.recv()
        except EOFError:
            outcome = None
    child.join(5)
    if child.is_alive():
        child.kill()
        child.join()
    elapsed = time.monotonic() - start
    if outcome is None:
        code = child.exitcode
        kind = "timeout" if code in (-signal.SIGALRM, -signal.SIGKILL) else "crash"
        return Outcome(kind, f"child ended with exit code {code}", seconds=elapsed)
    return Outcome(outcome.kind, outcome.message, outcome.value, elapsed)


def read_summary(path: Any, kwargs: dict) -> dict:
    """What a child reports of ``read_points(path, **kwargs)`` (defined here, in a module the fork
    server has loaded, so a child imports nothing more)."""
    from pointea.io import read_points

    cloud = read_points(path, **kwargs)
    return {
        "points": cloud.true_points(),
        "labels": cloud.labels,
        "num_source_points": cloud.num_source_points,
    }
