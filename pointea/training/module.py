"""What pointea's two LightningModules share: the network, PCT's optimisation recipe, test-time
voting, and the network record that makes checkpoints rebuildable.

Every checkpoint a pointea module writes carries ``checkpoint["pointea"]`` (see
:mod:`pointea.models.checkpoint`): the task and the network's constructor arguments as plain
Python values. That is what ``PCTClassifier.from_checkpoint`` / ``PointEncoder.from_checkpoint``
rebuild from, and what loading a checkpoint into a module checks first, so a checkpoint of another
task or architecture fails with one clear line instead of a wall of missing state-dict keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from pointea.io.predictions import CloudPrediction
from pointea.layers.arguments import check_count
from pointea.models.checkpoint import (
    CHECKPOINT_KEY,
    RECORD_FORMAT,
    CheckpointError,
    FromCheckpoint,
    record_differences,
)
from pointea.models.voting import ScaleVoting
from pointea.training.divergence import TrainingDiverged, first_non_finite, named_gradients

__all__ = ["PointCloudModule", "PCT_SGD", "PCT_MIN_LR"]

#: PCT's optimiser: SGD, lr 0.01, momentum 0.9, weight decay 5e-4.
PCT_SGD = dict(lr=0.01, momentum=0.9, weight_decay=5e-4)
#: PCT's cosine schedule ends at lr 1e-4 (its ``eta_min``).
PCT_MIN_LR = 1e-4
#: The label records a checkpoint must share with the configured model: the names its outputs mean.
LABEL_NAME_KEYS = ("classes", "categories", "parts_per_category")
#: The preprocessing records it must share with the configured data module, where both have them:
#: what each input channel is (scenes) and which lidar codes each class is.
INPUT_KEYS = ("features", "class_map")


class PointCloudModule(pl.LightningModule):
    """Base of :class:`~pointea.training.PointCloudClassifier` and
    :class:`~pointea.training.PartSegmentation`.

    Args:
        network: the pointea network to train (a :class:`~pointea.models.checkpoint.FromCheckpoint`
            network, so checkpoints can rebuild it).
        optimizer: builds the optimiser from the parameters; ``None`` is PCT's SGD (lr 0.01,
            momentum 0.9, weight decay 5e-4).
        scheduler: builds an epoch-wise learning-rate scheduler from the optimiser; ``None`` is
            PCT's cosine annealing over the trainer's ``max_epochs`` down to ``min_lr``.
        min_lr: the floor of the default cosine schedule.
        label_smoothing: label smoothing of the training cross-entropy (PCT: 0.2).
        votes: test-time voting passes for ``test`` and ``predict`` (1: no voting), see
            :class:`~pointea.models.voting.ScaleVoting`.
        compile: compile the network with ``torch.compile`` (in place, ``nn.Module.compile``, so
            checkpoints keep their keys) when the trainer sets the model up; off by default.
            Mixed precision is the trainer's: ``trainer.precision: bf16-mixed`` (CPU and CUDA).

    Training stops with :class:`~pointea.training.divergence.TrainingDiverged` at the first
    non-finite loss, gradient, output or weight (see :mod:`pointea.training.divergence`).
    """

    #: Task name stored in checkpoints, checked on load.
    TASK: ClassVar[str]
    #: Validation metric that selects the best checkpoint (maximised).
    MONITOR: ClassVar[str]

    def __init__(
        self,
        network: nn.Module,
        optimizer: OptimizerCallable | None = None,
        scheduler: LRSchedulerCallable | None = None,
        min_lr: float = PCT_MIN_LR,
        label_smoothing: float = 0.2,
        votes: int = 1,
        compile: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(network, FromCheckpoint):
            raise TypeError(f"{type(self).__name__}: network must be a pointea network, got {type(network).__name__}")
        network.constructor_record()  # fail now, not at the first checkpoint, if it cannot be recorded
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        check_count(type(self).__name__, "votes", votes)
        self.network = network
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.min_lr = min_lr
        self.label_smoothing = label_smoothing  # the subclasses' training cross-entropy
        self.voting = ScaleVoting(votes)
        self._last_finite_loss: Tensor | None = None
        self.compile_network = compile

    def configure_model(self) -> None:
        """Compile the network (``compile=True``) once, when the trainer sets the model up."""
        if self.compile_network and getattr(self.network, "_compiled_call_impl", None) is None:
            self.network.compile()

    @property
    def monitor(self) -> str:
        """The validation metric the CLI's best checkpoint is chosen by (higher is better)."""
        return self.MONITOR

    def configure_optimizers(self) -> dict[str, Any]:
        if self.optimizer_factory is None:
            optimizer = torch.optim.SGD(self.parameters(), **PCT_SGD)
        else:
            optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is not None:
            scheduler = self.scheduler_factory(optimizer)
        else:
            epochs = self.trainer.max_epochs
            if epochs is None or epochs < 1:
                raise ValueError(
                    f"trainer.max_epochs must be an integer >= 1 for the default cosine schedule, which runs over "
                    f"it; got {epochs} (or give model.init_args.scheduler)"
                )
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=self.min_lr)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def vote(self, *inputs: Tensor) -> Tensor:
        """Class probabilities averaged over the voting passes.

        Shapes:
            inputs: points (B, N, 3) and the network's other inputs; returns (B, K) or (B, N, K)
        """
        points, *rest = inputs
        return self.check_finite_output(self.voting(lambda p: self.network(p, *rest), points), "probabilities")

    # Divergence ----------------------------------------------------------------------------------

    def _where(self) -> str:
        """Where training is: the epoch and the optimiser step being computed (1-based)."""
        return f"epoch {self.current_epoch}, step {self.global_step + 1}"

    def _on_any_rank(self, flag: bool) -> bool:
        """``flag`` or'ed over all processes, so that every rank stops together (a rank that
        stopped alone would leave the others waiting in the next collective operation)."""
        if self._trainer is None or self.trainer.world_size == 1:
            return flag
        return self.trainer.strategy.reduce_boolean_decision(flag, all=False)

    def on_before_backward(self, loss: Tensor) -> None:
        if not self._on_any_rank(not bool(loss.detach().isfinite())):
            self._last_finite_loss = loss.detach()
            return
        last = self._last_finite_loss
        scale = self.trainer.accumulate_grad_batches
        value = loss.item()
        what = f"the loss is {value}" if not math.isfinite(value) else "another process's loss is not finite"
        raise TrainingDiverged(
            f"training diverged at {self._where()}: {what}; last finite loss "
            f"{'none' if last is None else f'{last.item() * scale:.6g}'}; lower the learning rate; "
            "no checkpoint of the diverged model was written"
        )

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if getattr(self.trainer.precision_plugin, "scaler", None) is not None:
            return  # fp16 loss scaling: inf gradients are expected, the scaler skips those steps
        name = first_non_finite(named_gradients(self))
        if name is not None:
            last = self._last_finite_loss
            raise TrainingDiverged(
                f"training diverged at {self._where()}: the gradient of {name} is not finite; last finite loss "
                f"{'none' if last is None else f'{last.item() * self.trainer.accumulate_grad_batches:.6g}'}; "
                "lower the learning rate or clip gradients (trainer.gradient_clip_val); no checkpoint of the "
                "diverged model was written"
            )

    def check_finite_output(self, output: Tensor, what: str = "logits") -> Tensor:
        """``output`` if it is finite; else :class:`TrainingDiverged` (NaN logits would score as class 0)."""
        if self._on_any_rank(not bool(output.isfinite().all())):
            stage = self.trainer.state.stage if self._trainer is not None else None
            raise TrainingDiverged(
                f"{type(self).__name__}: the network's {what} are not finite ({stage or 'evaluation'} at "
                f"{self._where()}): the model has diverged or overflows on this input; no metric is reported"
            )
        return output

    def cloud_prediction(self, row: dict[str, np.ndarray]) -> CloudPrediction:
        """One cloud of ``predict_step``'s output (``row``: each array's values for that cloud) as
        the predictions writer takes it (:class:`~pointea.io.predictions.CloudPrediction`)."""
        raise NotImplementedError(f"{type(self).__name__} writes no predictions")

    # Checkpoints ---------------------------------------------------------------------------------

    def network_record(self) -> dict[str, Any]:
        """What ``checkpoint["pointea"]`` holds for this module."""
        return {
            "format": RECORD_FORMAT,
            "task": self.TASK,
            "network": {**self.network.constructor_record(), "prefix": "network."},
            "encoder": {**self.network.encoder.constructor_record(), "prefix": "network.encoder."},
        }

    def label_record(self) -> dict[str, Any]:
        """The label names a checkpoint records beside the network (see
        :func:`~pointea.models.checkpoint.trained_labels`)."""
        return {}

    def preprocessing_record(self) -> dict[str, Any] | None:
        """How the attached data module serves clouds (see
        :func:`~pointea.models.checkpoint.trained_preprocessing`); ``None`` without one."""
        datamodule = getattr(self._trainer, "datamodule", None)
        record = getattr(datamodule, "preprocessing_record", None)
        return record() if callable(record) else None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        name = first_non_finite(checkpoint["state_dict"].items())
        if name is not None:
            raise TrainingDiverged(
                f"training diverged by epoch {self.current_epoch}, step {self.global_step}: weight {name} is not "
                "finite; the checkpoint was not written; lower the learning rate"
            )
        record = {**self.network_record(), "labels": self.label_record()}
        preprocessing = self.preprocessing_record()
        if preprocessing is not None:
            record["preprocessing"] = preprocessing
        checkpoint[CHECKPOINT_KEY] = record

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.check_checkpoint(checkpoint, preprocessing=self.preprocessing_record())

    def check_checkpoint(
        self,
        checkpoint: Mapping[str, Any],
        path: str | Path = "the checkpoint",
        preprocessing: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise a one-line :class:`CheckpointError` unless ``checkpoint`` holds this task and
        architecture, trained on the same label names (classes, categories and their parts) and,
        where both record them, the same served input features and lidar class map as
        ``preprocessing`` (the configured data module's record): a network of the same shape
        trained on other names or inputs would score under the wrong names, silently."""
        record = checkpoint.get(CHECKPOINT_KEY)
        if not isinstance(record, Mapping) or "network" not in record:
            raise CheckpointError(f"{path} was not written by a pointea training module: it has no network record")
        if record.get("format") != RECORD_FORMAT:
            raise CheckpointError(
                f"{path} has pointea record format {record.get('format')!r}; this version reads format {RECORD_FORMAT}"
            )
        if record.get("task") != self.TASK:
            raise CheckpointError(
                f"{path} is a {record.get('task')!r} checkpoint, but the configured model is {type(self).__name__} "
                f"({self.TASK!r}): use the config of the task it was trained for"
            )
        expected = {k: v for k, v in self.network_record()["network"].items() if k != "prefix"}
        found = {k: v for k, v in record["network"].items() if k != "prefix"}
        differences = record_differences(found, expected)
        if differences:
            raise CheckpointError(
                f"{path} holds a different architecture than the configured model (checkpoint != config): "
                + "; ".join(differences[:5])
                + (f"; and {len(differences) - 5} more" if len(differences) > 5 else "")
            )
        trained = record.get("labels") or {}
        configured = self.label_record()
        served = record.get("preprocessing") or {}
        pairs = [(f"labels {key}", trained[key], configured[key]) for key in LABEL_NAME_KEYS
                 if key in trained and key in configured]  # fmt: skip
        pairs += [(key, served[key], preprocessing[key]) for key in INPUT_KEYS
                  if preprocessing is not None and key in served and key in preprocessing]  # fmt: skip
        for what, was, now in pairs:
            differences = record_differences(was, now, what) if was is not None and now is not None else []  # None: not named
            if differences:
                raise CheckpointError(
                    f"{path} was trained with other {what} than the configured model and data (checkpoint != "
                    f"config): {differences[0]}; use the config it was trained with"
                )
