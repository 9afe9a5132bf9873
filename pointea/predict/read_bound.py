"""A time and memory bound on reading one file, derived from its size.

A damaged file can make a third-party parser loop for minutes or allocate what a header declares
(gigabytes for a file of a few hundred bytes). ``pointea-predict`` reads every file inside
:func:`read_bound`: past the time bound the read is interrupted (``SIGALRM``), past the memory
bound allocations fail (``RLIMIT_DATA``, counted from what the process holds already), and either
becomes that file's one-line reason in the "unreadable" list. The bounds are generous for real
files: :func:`seconds_for` and :func:`bytes_for`.

Both work where the read runs in a process's main thread (DataLoader workers, or the main process
with ``--workers 0``); elsewhere the read runs unbounded.
"""

from __future__ import annotations

import contextlib
import resource
import signal
import threading
from collections.abc import Iterator

__all__ = ["ReadTooLong", "read_bound", "seconds_for", "bytes_for"]

#: Time bound: a fixed allowance (a parser's first import, a busy machine) plus a rate no real
#: reader is slower than.
BASE_SECONDS, SECONDS_PER_MB = 30.0, 1.0
#: Memory bound: a fixed allowance plus a multiple of the file's size (LAZ inflates about 10x into
#: records, the records about 3x into coordinates).
BASE_BYTES, BYTES_PER_BYTE = 2 << 30, 64


class ReadTooLong(Exception):
    """Reading one file passed its time bound."""


def seconds_for(size: int) -> float:
    """The time bound for reading a file of ``size`` bytes."""
    return BASE_SECONDS + SECONDS_PER_MB * size / 1e6


def bytes_for(size: int) -> int:
    """The memory bound for reading a file of ``size`` bytes."""
    return BASE_BYTES + BYTES_PER_BYTE * size


def _data_bytes() -> int | None:
    """What the process's data segment holds now (``VmData``), or ``None`` where unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


@contextlib.contextmanager
def read_bound(seconds: float, memory: int | None) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (:class:`ReadTooLong`) and let it allocate at most
    ``memory`` more bytes (``None``: no memory bound) before allocations fail (``MemoryError``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    limits = resource.getrlimit(resource.RLIMIT_DATA)
    held = _data_bytes() if memory is not None else None
    if held is not None:
        hard = limits[1]
        soft = held + memory if hard == resource.RLIM_INFINITY else min(hard, held + memory)
        resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))

    def interrupt(signum, frame):
        raise ReadTooLong(f"reading it took longer than {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if held is not None:
            resource.setrlimit(resource.RLIMIT_DATA, limits)
