"""Saving the exact training state when ``fit`` is interrupted with Ctrl-C.

Lightning saves nothing when training stops on an exception. On ``KeyboardInterrupt`` this
callback saves the state of the moment (weights, optimiser and scheduler, epoch and batch
progress) as the ModelCheckpoint's ``last.ckpt``, so ``pointea fit ... --ckpt_path last`` carries
on from there: the finished optimiser steps are neither lost nor repeated. Other exceptions
(bugs, NaN) save nothing: ``last.ckpt`` then still holds the end of the last good epoch.
"""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn

__all__ = ["InterruptCheckpoint"]


class InterruptCheckpoint(pl.Callback):
    """On Ctrl-C during ``fit``, save ``<checkpoint dirpath>/last.ckpt``."""

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        callback = trainer.checkpoint_callback
        if not isinstance(exception, KeyboardInterrupt) or trainer.state.fn != TrainerFn.FITTING:
            return
        if callback is None or callback.dirpath is None:
            return
        if trainer.world_size > 1:  # saving is collective; other ranks may not be interrupted
            rank_zero_warn("interrupted: not saving under several processes; resume from the last epoch checkpoint")
            return
        path = Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
        trainer.save_checkpoint(path)
        rank_zero_info(f"interrupted at epoch {trainer.current_epoch}, step {trainer.global_step}: saved {path}")
