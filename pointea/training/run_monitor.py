"""What a compared run records about its own training: seconds per epoch.

``pointea-compare`` adds :class:`RunMonitor` to every ``fit`` it runs. (A NaN or infinite loss
needs no watching here: the training module stops the run with
:class:`~pointea.training.divergence.TrainingDiverged`, which the run reports as diverged.)
"""

from __future__ import annotations

import time

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback

__all__ = ["RunMonitor"]


class RunMonitor(Callback):
    """Times every training epoch.

    Attributes:
        epoch_seconds: wall-clock seconds of each finished training epoch, its validation included
            (Lightning validates inside the training epoch).
    """

    def __init__(self) -> None:
        self.epoch_seconds: list[float] = []
        self._started: float | None = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._started is not None:
            self.epoch_seconds.append(time.perf_counter() - self._started)
            self._started = None
