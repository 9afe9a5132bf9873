"""One ``pointea fit`` per run folder at a time.

Two runs writing into the same ``trainer.default_root_dir`` overwrite each other's ``last.ckpt``
and best checkpoint without a word. ``pointea fit`` therefore holds an exclusive lock on
``<run folder>/pointea.lock`` (``flock``) while it trains, and writes its process id into the file.
A second run into the folder is refused with one line naming that process. The operating system
drops the lock when its process ends, however it ends, so a run killed with SIGKILL never blocks
the folder; the next run takes it over and says whose run it was.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn

from pointea.errors import RunFolderBusy

__all__ = ["RunFolderBusy", "RunLock", "LOCK_NAME"]

LOCK_NAME = "pointea.lock"


class RunLock:
    """Context manager holding ``<folder>/pointea.lock`` for this process.

    Args:
        folder: the run folder (``trainer.default_root_dir``); created if missing.

    Raises:
        RunFolderBusy: on entry, when another run holds the folder.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self._descriptor: int | None = None

    def _holder(self, descriptor: int) -> dict:
        """The record in the lock file ({} when empty or unreadable)."""
        os.lseek(descriptor, 0, os.SEEK_SET)
        text = os.read(descriptor, 4096).decode(errors="replace")
        try:
            record = json.loads(text)
        except ValueError:
            return {}
        return record if isinstance(record, dict) else {}

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(descriptor)
            os.close(descriptor)
            raise RunFolderBusy(
                f"run folder {self.folder} is in use by another `pointea fit` (pid {holder.get('pid', '?')} on "
                f"{holder.get('host', '?')}, since {holder.get('started', '?')}); wait for it to end, or train into "
                "another --trainer.default_root_dir"
            ) from None
        previous = self._holder(descriptor)
        if previous.get("pid") is not None:  # its process ended without releasing: killed or crashed
            rank_zero_warn(
                f"pointea: taking over {self.folder}: the run that held it (pid {previous['pid']}, since "
                f"{previous.get('started', '?')}) ended without finishing; its checkpoints may be overwritten"
            )
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(record).encode(), 0)
        self._descriptor = descriptor
        rank_zero_info(f"pointea: run folder {self.folder} is locked for this run (pid {os.getpid()}): {self.path}")

    def release(self) -> None:
        """Empty the lock file (a clean end) and drop the lock."""
        if self._descriptor is None:
            return
        os.ftruncate(self._descriptor, 0)
        fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        os.close(self._descriptor)
        self._descriptor = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
