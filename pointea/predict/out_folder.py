"""The ``--out`` folder of ``pointea-predict``: checked before any work, held by one run at a time,
never silently replaced.

- Before anything is read: ``--out`` that is a file, lies under a file, or cannot be created or
  written is refused in one line.
- While a run writes, it holds ``<out>/.pointea-predict.lock`` (a
  :class:`~pointea.io.folder_lock.FolderLock`): a second run into the same folder is refused.
- A folder holding a finished run's ``predictions.csv``/``.json`` is refused unless
  ``--overwrite``; with it, the earlier run's files stay until the new tables are written, then
  the earlier per-file outputs this run did not rewrite are removed, so the folder describes one run.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import TracebackType

from pointea.errors import RunFolderBusy, UsageError
from pointea.io.folder_lock import FolderLock
from pointea.io.writable import check_out_folder

__all__ = ["OutFolder", "LOCK_NAME", "TABLES"]

LOCK_NAME = ".pointea-predict.lock"
#: The files that mark a finished run.
TABLES = ("predictions.csv", "predictions.json")


class OutFolder:
    """Context manager: ``--out`` created, locked and checked for a finished run.

    Args:
        out: the folder.
        overwrite: replace a finished run's outputs instead of refusing.

    Raises:
        UsageError: on entry: the folder cannot be created or written, another run holds it,
            or it holds a finished run and ``overwrite`` is false.
    """

    def __init__(self, out: Path, overwrite: bool = False) -> None:
        self.out = Path(out)
        self.overwrite = overwrite
        self.lock = FolderLock(self.out, LOCK_NAME, "pointea-predict")
        self.earlier_outputs: set[str] = set()

    def __enter__(self) -> OutFolder:
        check_out_folder(self.out)
        try:
            self.lock.acquire()
        except RunFolderBusy as error:
            raise UsageError(f"--out {error}; wait for it to end, or choose another --out") from None
        except OSError as error:
            raise UsageError(f"--out {self.out}: cannot write there ({error.strerror or error})") from None
        try:
            finished = [name for name in TABLES if (self.out / name).exists()]
            if finished and not self.overwrite:
                raise UsageError(
                    f"--out {self.out} holds the predictions of an earlier run ({finished[0]}): pass --overwrite to "
                    "replace them, or choose another --out"
                )
            self.earlier_outputs = self._outputs_of_earlier_run()
        except BaseException:
            self.lock.release()
            raise
        return self

    def _outputs_of_earlier_run(self) -> set[str]:
        """Per-file outputs the earlier run's ``predictions.json`` lists (plain names in ``out``)."""
        try:
            report = json.loads((self.out / "predictions.json").read_text())
            names = {name for entry in report["predictions"] for name in entry.get("outputs", [])}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return set()
        return {name for name in names if isinstance(name, str) and name and Path(name).name == name}

    def remove_stale(self, written: set[str]) -> None:
        """Remove the earlier run's per-file outputs this run did not rewrite (after ``--overwrite``)."""
        for name in sorted(self.earlier_outputs - written):
            (self.out / name).unlink(missing_ok=True)

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.lock.release()
