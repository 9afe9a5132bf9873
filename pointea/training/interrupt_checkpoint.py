"""Saving the exact training state when ``fit`` is interrupted with Ctrl-C.

Lightning saves nothing when training stops on an exception. On ``KeyboardInterrupt`` this
callback saves the state of the moment (weights, optimiser and scheduler, epoch and batch
progress) as the ModelCheckpoint's ``last.ckpt``, so ``pointea fit ... --ckpt_path last`` carries
on from there: the finished optimiser steps are neither lost nor repeated. Other exceptions
(bugs, NaN) save nothing: ``last.ckpt`` then still holds the end of the last good epoch.

The loggers' step numbers carry on too. Lightning restores its logger step counter assuming the
checkpoint was written at the end of a batch, or of an epoch; a Ctrl-C lands anywhere (most often
inside a training step), and then the resumed run's log skipped one step and labelled every later
row one too high. This callback records the number of finished optimiser steps with the
interrupted state and sets the counter to it when training resumes, and writes the log row of a
step that was finished but not yet logged when the interruption came.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.trainer.states import TrainerFn
from pytorch_lightning.utilities import rank_zero_info, rank_zero_warn

__all__ = ["InterruptCheckpoint"]


class InterruptCheckpoint(pl.Callback):
    """On Ctrl-C during ``fit``, save ``<checkpoint dirpath>/last.ckpt``; on resuming from it, keep
    the loggers' step numbers contiguous."""

    def __init__(self) -> None:
        self._logger_step: int | None = None  # set while saving an interrupted state
        self._resume_logger_step: int | None = None  # read from such a state, applied at the first batch

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        callback = trainer.checkpoint_callback
        if not isinstance(exception, KeyboardInterrupt) or trainer.state.fn != TrainerFn.FITTING:
            return
        if callback is None or callback.dirpath is None:
            return
        if trainer.world_size > 1:  # saving is collective; other ranks may not be interrupted
            rank_zero_warn("interrupted: not saving under several processes; resume from the last epoch checkpoint")
            return
        self._log_finished_step(trainer)
        if _steps_are_logger_steps(trainer, pl_module):
            self._logger_step = trainer.global_step
        path = Path(callback.dirpath) / f"{callback.CHECKPOINT_NAME_LAST}{callback.FILE_EXTENSION}"
        try:
            trainer.save_checkpoint(path)
        finally:
            self._logger_step = None
        rank_zero_info(f"interrupted at epoch {trainer.current_epoch}, step {trainer.global_step}: saved {path}")

    @staticmethod
    def _log_finished_step(trainer: pl.Trainer) -> None:
        """Write the metrics row of a batch interrupted in ``on_train_batch_end``: its optimiser step
        is done (and kept), but Lightning logs its row only after that hook."""
        progress = trainer.fit_loop.epoch_loop.batch_progress.total
        if progress.processed == progress.started and progress.completed == progress.processed - 1:
            trainer._logger_connector.update_train_step_metrics()

    def state_dict(self) -> dict[str, Any]:
        return {} if self._logger_step is None else {"logger_step": self._logger_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._resume_logger_step = state_dict.get("logger_step")

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self._resume_logger_step is not None:
            # After Lightning's own restore (its epoch loop's reset), before the first row is logged.
            trainer.fit_loop.epoch_loop._batches_that_stepped = self._resume_logger_step
            self._resume_logger_step = None


def _steps_are_logger_steps(trainer: pl.Trainer, pl_module: pl.LightningModule) -> bool:
    """Whether the loggers' step counter equals the number of optimiser steps (automatic
    optimisation with one optimiser, as pointea's modules train)."""
    return pl_module.automatic_optimization and len(trainer.optimizers) == 1
