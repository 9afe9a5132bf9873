"""Atomic file writes: a file is either its old self or completely new, never half written.

Everything pointea writes for a user to keep (predictions, exported models, converted and
training checkpoints, reports) goes through :func:`atomic_write`: the content goes to a hidden
temporary file beside the target, is flushed to disk, and is renamed over the target in one step
(``os.replace``). A failure on the way (a full disk, a file-size limit, Ctrl-C) removes the
temporary file and leaves whatever was at the target untouched. (Python ignores ``SIGXFSZ``, so
a write past ``ulimit -f`` is an ``OSError`` here, not the end of the process.)

The new file gets the permissions a plain ``open`` would give it (``0o666`` less the umask), or
the earlier file's when it replaces one: never :mod:`tempfile`'s ``0o600``. Every writer in
:mod:`pointea.io` (``write_points``, the predictions writer) writes through here.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "atomic_path"]


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that takes a file name (``torch.save``,
    ``torch.onnx.export``); renamed to ``path`` when the block ends without an exception.

    Raises:
        OSError: the folder is not writable, the disk is full, a file-size limit is reached.
    """
    path = Path(path)
    mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else 0o666 & ~_umask()
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb+") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "wb", **open_args) -> Iterator[IO]:
    """An open temporary file beside ``path``, renamed to ``path`` when the block ends without
    an exception (``mode`` ``"wb"`` or ``"w"``; ``open_args`` go to :func:`open`).

    Raises:
        OSError: the folder is not writable, the disk is full, a file-size limit is reached.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes new files: mode 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as temporary, open(temporary, mode, **open_args) as handle:
        yield handle


def _umask() -> int:
    """The process's umask (the permissions a plain ``open`` would give; mkstemp gives 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
