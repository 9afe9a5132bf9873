"""What a compared run records about its own training: seconds per epoch and a non-finite loss.

``pointea-compare`` adds :class:`RunMonitor` to every ``fit`` it runs. A training loss that turns
NaN or infinite marks the run as diverged and stops it at the end of that epoch: a diverged run is
reported as failed, never as a number.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from torch import Tensor

__all__ = ["RunMonitor"]


class RunMonitor(Callback):
    """Times every training epoch and watches the training loss.

    Attributes:
        epoch_seconds: wall-clock seconds of each finished training epoch, its validation included
            (Lightning validates inside the training epoch).
        non_finite_step: the global step of the first NaN or infinite training loss, or ``None``.
    """

    def __init__(self) -> None:
        self.epoch_seconds: list[float] = []
        self.non_finite_step: int | None = None
        self._started: float | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._started is not None:
            self.epoch_seconds.append(time.perf_counter() - self._started)
            self._started = None

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if isinstance(loss, Tensor) and self.non_finite_step is None and not math.isfinite(loss.item()):
            self.non_finite_step = trainer.global_step
            trainer.should_stop = True

    @property
    def diverged(self) -> bool:
        """Whether the training loss was ever NaN or infinite."""
        return self.non_finite_step is not None
