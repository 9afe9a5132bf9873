"""Resolving ``--ckpt_path best`` / ``last`` in a fresh process, where Lightning cannot.

Lightning resolves ``"best"`` only from the ModelCheckpoint state of the same process (right after
``fit``), so ``pointea test --ckpt_path best`` in a new process would fail. Here ``"best"`` is read
from the ModelCheckpoint state stored in ``last.ckpt`` (which every epoch and every interruption
rewrites), and ``"last"`` is that file itself, with a one-line error when it does not exist.
"""

from __future__ import annotations

from pathlib import Path

from pytorch_lightning.callbacks import ModelCheckpoint

from pointea.models.checkpoint import CheckpointError, read_checkpoint

__all__ = ["last_checkpoint_path", "resolve_checkpoint_path"]


def last_checkpoint_path(callback: ModelCheckpoint) -> Path:
    """``<dirpath>/last.ckpt`` of a ModelCheckpoint with a ``dirpath``."""
    return Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"


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
    if callback.best_model_path and Path(callback.best_model_path).is_file():
        return callback.best_model_path
    for key, state in read_checkpoint(last).get("callbacks", {}).items():
        is_best_callback = key.startswith("ModelCheckpoint") and state.get("monitor") == callback.monitor
        if is_best_callback and state.get("best_model_path"):
            best = Path(state["best_model_path"])
            for candidate in (best, Path(callback.dirpath) / best.name):  # the run folder may have moved
                if candidate.is_file():
                    return str(candidate)
    raise CheckpointError(
        f"--ckpt_path best: {last} records no best checkpoint for monitor {callback.monitor!r}; "
        "pass a checkpoint file instead"
    )
