"""Writing a file atomically: to a temporary name beside it, renamed into place when complete.

A failure part way (a full disk, a file-size limit, an exception, Ctrl-C) removes the temporary
file and leaves the earlier file at the target, if any, untouched; readers never see a half-written
file. The new file gets the permissions ``open()`` would give it (``0o666`` less the umask), or the
earlier file's when it replaces one: never the ``0o600`` of :mod:`tempfile`. Every writer in
:mod:`pointea.io` writes through :func:`atomic_output`.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from pointea.errors import DataError

__all__ = ["atomic_output"]


@contextmanager
def atomic_output(path: Path) -> Iterator[BinaryIO]:
    """A binary stream for ``path``: the file appears at ``path`` only if the block completes.

    Raises:
        DataError: the folder cannot be written, or writing failed (disk full, file-size limit);
            one line naming ``path``.
    """
    path = Path(path)
    mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else None
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.partial")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
        except OSError as error:
            raise DataError(f"{path}: cannot write here ({error.strerror})") from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise DataError(
                f"{path}: writing failed ({error.strerror or error}); any earlier file is unchanged"
            ) from None
        raise
