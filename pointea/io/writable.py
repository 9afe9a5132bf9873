"""Whether an output folder can be written, found before any work: ``check_out_folder``.

Commands check their output folders with it first (``pointea-predict --out``, ``pointea-compare
--out``), so a folder that is a file, lies under a file, or cannot be written is one line before
anything is read or trained, not a traceback after.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pointea.errors import UsageError

__all__ = ["check_out_folder"]


def check_out_folder(out: Path, argument: str | None = None) -> None:
    """Refuse an output folder that cannot become a writable folder (nothing is left behind: the
    nearest existing folder is probed with a temporary file). Other commands check their output
    folders with it too.

    Args:
        out: the folder.
        argument: how messages name it (default ``--out <out>``).

    Raises:
        UsageError: one line naming the argument and what is wrong.
    """
    argument = argument or f"--out {out}"
    if out.exists() and not out.is_dir():
        raise UsageError(f"{argument} is a file, expected a folder (or a name for a new one)")
    ancestor = out
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise UsageError(f"{argument}: {ancestor} is a file, so no folder can be made under it")
    if ancestor.exists() and not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"{argument}: {ancestor} is not writable")
    try:  # permissions do not tell everything (root, read-only or immutable file systems)
        descriptor, probe = tempfile.mkstemp(dir=ancestor, prefix=".pointea-probe-")
    except OSError as error:
        raise UsageError(f"{argument}: cannot write there ({error.strerror or error})") from None
    os.close(descriptor)
    os.unlink(probe)
