"""One ``pointea fit`` per run folder at a time.

Two runs writing into the same ``trainer.default_root_dir`` overwrite each other's ``last.ckpt``
and best checkpoint without a word. ``pointea fit`` therefore holds ``<run folder>/pointea.lock``
(a :class:`~pointea.io.folder_lock.FolderLock`) while it trains. A second run into the folder is
refused with one line naming that process. The operating system drops the lock when its process
ends, however it ends, so a run killed with SIGKILL never blocks the folder; the next run takes it
over and says whose run it was (the only time the lock is mentioned).
"""

from __future__ import annotations

from pathlib import Path

from pytorch_lightning.utilities import rank_zero_warn

from pointea.errors import RunFolderBusy
from pointea.io.folder_lock import FolderLock

__all__ = ["RunFolderBusy", "RunLock", "LOCK_NAME"]

LOCK_NAME = "pointea.lock"


class RunLock(FolderLock):
    """Context manager holding ``<folder>/pointea.lock`` for this ``pointea fit``.

    Args:
        folder: the run folder (``trainer.default_root_dir``); created if missing.

    Raises:
        RunFolderBusy: on entry, when another run holds the folder.
    """

    def __init__(self, folder: str | Path) -> None:
        super().__init__(folder, LOCK_NAME, "pointea fit")

    def busy_message(self, holder: dict) -> str:
        return (
            f"run folder {super().busy_message(holder)}; wait for it to end, or train into another "
            "--trainer.default_root_dir"
        )

    def acquire(self) -> None:
        super().acquire()
        if self.taken_over is not None:  # its process ended without releasing: killed or crashed
            rank_zero_warn(
                f"pointea: taking over {self.folder}: the run that held it (pid {self.taken_over['pid']}, since "
                f"{self.taken_over.get('started', '?')}) ended without finishing"
            )
