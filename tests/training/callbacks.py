"""Callbacks the training tests put into ``pointea`` runs (also in subprocesses, by class path)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytorch_lightning as pl
import torch


class InterruptAt(pl.Callback):
    """Send this process SIGINT (Ctrl-C) once the optimiser step ``step`` is done."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


class TrainingLog(pl.Callback):
    """Append one JSON line per event to ``path``: where training starts (step, epoch, momentum
    and weight sums) and every finished optimiser step (epoch, batch, global step)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def _write(self, **record) -> None:
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")

    def on_train_start(self, trainer, pl_module) -> None:
        optimizer = trainer.optimizers[0]
        momentum = [state["momentum_buffer"].double().sum().item() for state in optimizer.state.values()]
        self._write(
            event="start", global_step=trainer.global_step, epoch=trainer.current_epoch,
            momentum=momentum, weights=sum(p.double().sum().item() for p in pl_module.parameters()),
            lr=optimizer.param_groups[0]["lr"],
        )  # fmt: skip

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self._write(event="step", global_step=trainer.global_step, epoch=trainer.current_epoch, batch=batch_idx)


class RankMetrics(pl.Callback):
    """Each rank writes the validation metrics it logged, and how many validation batches it ran,
    to ``<folder>/rank<r>.json``."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        logged = trainer.callback_metrics.items()
        metrics = {k: v.item() for k, v in logged if k.startswith("val/") and torch.is_tensor(v)}
        metrics["batches"] = sum(trainer.num_val_batches)
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"rank{trainer.global_rank}.json").write_text(json.dumps(metrics))


class LearningRateAt(pl.Callback):
    """From epoch ``epoch`` on, train with learning rate ``lr`` (e.g. 1e12 to make a good run diverge)."""

    def __init__(self, epoch: int, lr: float) -> None:
        self.epoch = epoch
        self.lr = lr

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch >= self.epoch:
            for group in trainer.optimizers[0].param_groups:
                group["lr"] = self.lr


class InterruptInBackward(pl.Callback):
    """Send this process SIGINT (Ctrl-C) in the middle of the training step that makes optimiser
    step ``step`` (after its backward pass, before the optimiser step), as a Ctrl-C at a random
    moment of a long epoch most likely lands."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_step + 1 == self.step:
            os.kill(os.getpid(), signal.SIGINT)


class HoldFor(pl.Callback):
    """Write ``path`` when training starts, then sleep ``seconds`` in the first batch: keeps a run
    alive long enough for a second run to meet it."""

    def __init__(self, path: str, seconds: float) -> None:
        self.path = Path(path)
        self.seconds = seconds

    def on_train_start(self, trainer, pl_module) -> None:
        self.path.write_text(str(os.getpid()))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == 1:
            time.sleep(self.seconds)
