"""Checkpoint files written atomically, with a full disk reported in one line.

Lightning's own writer opens ``last.ckpt`` for writing and fills it: a full disk or a file-size
limit (``ulimit -f``) in between leaves a truncated ``last.ckpt`` and a traceback, and the previous
state is gone. :class:`AtomicCheckpointIO` serialises the checkpoint in memory (as Lightning
does), writes it to a temporary name beside the target and renames it into place
(:mod:`pointea.io.atomic`): a failed write leaves the previous checkpoint intact and ends the run
with a one-line :class:`~pointea.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from pointea.errors import CheckpointError
from pointea.io.atomic import atomic_write

__all__ = ["AtomicCheckpointIO", "write_checkpoint_file"]


def write_checkpoint_file(checkpoint: dict[str, Any], path: str | Path) -> Path:
    """Write ``checkpoint`` to ``path`` atomically (see the module docstring); returns ``path``.

    Raises:
        CheckpointError: the file cannot be written (full disk, file-size limit, no permission).
    """
    path = Path(path)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            handle.write(buffer.getbuffer())
    except OSError as error:
        raise CheckpointError(
            f"cannot write checkpoint {path}: {error.strerror or error} (an earlier file of that name is intact)"
        ) from None
    return path


class AtomicCheckpointIO(TorchCheckpointIO):
    """:class:`TorchCheckpointIO` whose writes are atomic (see the module docstring)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        write_checkpoint_file(checkpoint, path)
