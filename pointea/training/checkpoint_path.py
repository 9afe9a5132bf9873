"""Resolving ``--ckpt_path best`` / ``last`` in a fresh process, where Lightning cannot.

Lightning resolves ``"best"`` only from the ModelCheckpoint state of the same process (right after
``fit``), so ``pointea test --ckpt_path best`` in a new process would fail. Here ``"best"`` is read
from the ModelCheckpoint state stored in ``last.ckpt`` (which every epoch and every interruption
rewrites), and ``"last"`` is that file itself, with a one-line error when it does not exist.

The best file is looked for in the checkpoint folder itself (by the recorded file's name), never
outside it: a run folder copied or moved elsewhere resolves to its own files, and a copy whose best
file was deleted fails with one line instead of silently loading the original folder's best.
"""

from __future__ import annotations

from pathlib import Path

from pytorch_lightning.callbacks import ModelCheckpoint

from pointea.models.checkpoint import CheckpointError, read_checkpoint

__all__ = ["last_checkpoint_path", "resolve_checkpoint_path"]


def last_checkpoint_path(callback: ModelCheckpoint) -> Path:
    """``<dirpath>/last.ckpt`` of a ModelCheckpoint with a ``dirpath``."""
    return Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"


def _inside(path: Path, folder: Path) -> bool:
    """``path`` is an existing file directly in ``folder``."""
    return path.is_file() and path.resolve().parent == folder.resolve()


def resolve_checkpoint_path(ckpt_path: str, callback: ModelCheckpoint | None) -> str:
    """A checkpoint file for ``ckpt_path``: ``"best"``, ``"last"`` or a path.

    Raises:
        CheckpointError: no such checkpoint (with a hint to run ``pointea fit`` first).
    """
    if ckpt_path not in ("best", "last"):
        if not Path(ckpt_path).is_file():
            raise CheckpointError(f"--ckpt_path {ckpt_path}: no such checkpoint file")
        return ckpt_path
    if callback is None or callback.dirpath is None:
        raise CheckpointError(f"--ckpt_path {ckpt_path} needs a ModelCheckpoint with a dirpath (checkpoint.dirpath)")
    last = last_checkpoint_path(callback)
    if not last.is_file():
        raise CheckpointError(
            f"--ckpt_path {ckpt_path}: no checkpoint in {callback.dirpath}; train first with "
            "`pointea fit` and the same config (or pass a checkpoint file)"
        )
    if ckpt_path == "last":
        return str(last)
    folder = Path(callback.dirpath)
    if callback.best_model_path and _inside(Path(callback.best_model_path), folder):
        return callback.best_model_path  # set by `fit` in this process
    for key, state in read_checkpoint(last).get("callbacks", {}).items():
        is_best_callback = key.startswith("ModelCheckpoint") and state.get("monitor") == callback.monitor
        if is_best_callback and state.get("best_model_path"):
            recorded = Path(state["best_model_path"])
            here = folder / recorded.name  # the run folder may have been copied or moved
            if here.is_file():
                return str(here)
            raise CheckpointError(
                f"--ckpt_path best: {last} records {recorded.name} as the best checkpoint, but {folder} has no such "
                f"file (it was written as {recorded}); pass a checkpoint file instead"
            )
    raise CheckpointError(
        f"--ckpt_path best: {last} records no best checkpoint for monitor {callback.monitor!r}; "
        "pass a checkpoint file instead"
    )
