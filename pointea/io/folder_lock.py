"""One writer per output folder: an exclusive ``flock`` on a lock file inside it.

Two commands writing into one folder (two ``pointea fit`` into one run folder, two
``pointea-predict`` into one ``--out``) would overwrite each other's files without a word. The
first holds ``<folder>/<name>`` locked and writes its process id, host and start time there; a
second is refused with one line naming that process. The operating system drops the lock when its
process ends, however it ends, so a killed run never blocks the folder: the next one takes it over
and :attr:`FolderLock.taken_over` says whose run it was.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from pointea.errors import RunFolderBusy

__all__ = ["FolderLock"]


class FolderLock:
    """Context manager holding ``<folder>/<name>`` for this process.

    Args:
        folder: the folder to hold; created if missing.
        name: the lock file's name.
        command: what holds it, for the message a second command gets (``"pointea fit"``).

    Attributes:
        taken_over: after :meth:`acquire`, the record of an earlier holder that ended without
            releasing the lock (killed or crashed), else ``None``.

    Raises:
        RunFolderBusy: on entry, when another live process holds the folder.
        OSError: the folder cannot be created or written.
    """

    def __init__(self, folder: str | Path, name: str, command: str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / name
        self.command = command
        self.taken_over: dict | None = None
        self._descriptor: int | None = None

    @staticmethod
    def _holder(descriptor: int) -> dict:
        """The record in the lock file ({} when empty or unreadable)."""
        os.lseek(descriptor, 0, os.SEEK_SET)
        text = os.read(descriptor, 4096).decode(errors="replace")
        try:
            record = json.loads(text)
        except ValueError:
            return {}
        return record if isinstance(record, dict) else {}

    def busy_message(self, holder: dict) -> str:
        return (
            f"{self.folder} is in use by another `{self.command}` (pid {holder.get('pid', '?')} on "
            f"{holder.get('host', '?')}, since {holder.get('started', '?')})"
        )

    def acquire(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._holder(descriptor)
            os.close(descriptor)
            raise RunFolderBusy(self.busy_message(holder)) from None
        previous = self._holder(descriptor)
        self.taken_over = previous if previous.get("pid") is not None else None
        record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(record).encode(), 0)
        self._descriptor = descriptor

    def release(self) -> None:
        """Empty the lock file (a clean end) and drop the lock."""
        if self._descriptor is None:
            return
        os.ftruncate(self._descriptor, 0)
        fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        os.close(self._descriptor)
        self._descriptor = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.release()
