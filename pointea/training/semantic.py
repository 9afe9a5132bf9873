"""Semantic segmentation of rooms and lidar tiles as a LightningModule.

Training sees crops (batches of B crops of N points each). Evaluation sees **whole scenes**: the
scene data modules serve validation (``val_mode="scenes"``), test and predict batches as one
full-resolution scene each (B = 1), and every original point is scored:

- external attention (the default) evaluates the scene in one exact pass, in chunks of
  ``chunk_size`` points (:mod:`pointea.models.chunked`): no windows, no voting, memory bounded by
  the chunk whatever the scene's size;
- self-attention (``attention="offset"``, PCT's) cannot: its N x N maps do not fit a room. It
  evaluates overlapping sliding windows (:class:`~pointea.models.scene_evaluation.SlidingWindows`,
  ``window_size`` / ``window_stride`` metres, at most ``window_points`` points per pass) and
  averages each point's class probabilities over the passes that saw it, as PointNet and Pointcept
  do. Before anything is allocated, the N x N maps a pass would need are estimated and a pass
  that would not fit ``memory_limit_gb`` is refused in one line (so is a training batch).

Metrics (torchmetrics, synchronised across processes, ``ignore_index`` points left out): mIoU (over
the classes present in truth or prediction), mAcc (over the classes present in truth), OA, and the
IoU of every class; at test time the confusion matrix is also written as a picture
(``confusion_matrix.png``) and a CSV beside the logs.

Shape legend: B clouds, N points, K classes, C feature channels, n points of a window pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from pytorch_lightning.utilities import rank_zero_only, rank_zero_warn
from torch import Tensor
from torchmetrics.classification import MulticlassConfusionMatrix

from pointea.errors import ConfigError, DataError
from pointea.io.predictions import CloudPrediction
from pointea.models.chunked import DEFAULT_CHUNK_SIZE
from pointea.models.per_point import PCTSemanticSegmenter
from pointea.models.scene_evaluation import (
    SlidingWindows,
    check_self_attention_fits,
    device_memory_bytes,
    scene_logits,
    self_attention_estimate,
)
from pointea.training.confusion_picture import write_confusion_csv, write_confusion_picture
from pointea.training.module import PointCloudModule

__all__ = ["SemanticSegmentation", "scene_scores", "self_attention_estimate", "height_channel"]


def scene_scores(confusion: Tensor) -> dict[str, Tensor]:
    """mIoU, mAcc, OA and per-class IoU / accuracy from a confusion matrix (rows: truth).

    A class absent from both truth and prediction has no IoU (NaN) and is left out of mIoU; a class
    absent from the truth has no accuracy (NaN) and is left out of mAcc (S3DIS's convention: the
    mean over the classes the split holds).

    Shapes: confusion (K, K) counts; returns scalars and ``iou``, ``accuracy`` (K,)
    """
    confusion = confusion.double()
    hits = confusion.diagonal()  # (K,)
    truth, predicted = confusion.sum(dim=1), confusion.sum(dim=0)  # (K,), (K,)
    union = truth + predicted - hits
    iou = torch.where(union > 0, hits / union.clamp_min(1), torch.full_like(hits, math.nan))
    accuracy = torch.where(truth > 0, hits / truth.clamp_min(1), torch.full_like(hits, math.nan))
    total = confusion.sum()
    return {
        "miou": iou.nanmean(),
        "macc": accuracy.nanmean(),
        "oa": hits.sum() / total if total > 0 else torch.tensor(math.nan, dtype=torch.float64),
        "iou": iou,
        "accuracy": accuracy,
        "points": total,
    }


class SemanticSegmentation(PointCloudModule):
    """Trains a :class:`~pointea.PCTSemanticSegmenter` on scene crops and scores whole scenes.

    Args:
        network: the segmenter; under the CLI its ``num_classes`` and ``in_channels`` are linked
            from the data module.
        class_names: class names in label order (linked from the data module under the CLI).
        ignore_index: label of unlabelled / ignored points: no loss, no metric (linked).
        class_weights: cross-entropy weight per class; ``None``: the data module's
            ``class_weights`` when it computes them (its ``class_weighting``), else uniform.
        chunk_size: points per chunk of the exact whole-scene pass (external attention).
        window_size, window_stride: sliding windows (metres) of the self-attention evaluation.
        window_points: most points per self-attention window pass (a fuller window is split).
        memory_limit_gb: what a self-attention pass may take for its N x N maps; ``None``: the
            device's total memory. A pass estimated above it is refused before allocating.
        label_smoothing: label smoothing of the training cross-entropy (none by default).
        recipe: optimizer, scheduler, min_lr, votes, compile, by keyword: see
            :class:`~pointea.training.module.PointCloudModule`.

    Batches: ``{"points": (B, N, 3), "features": (B, N, C) (optional), "labels": (B, N) long with
    ignore_index, "index": (B,)}``; a whole-scene batch has B = 1.

    Logged: ``train/loss``; ``val/loss``, ``val/miou``, ``val/macc``, ``val/oa``; ``test/miou``,
    ``test/macc``, ``test/oa`` and ``test/iou/<class>`` for every class present in the test split.
    """

    TASK = "semantic_segmentation"
    MONITOR = "val/miou"

    def __init__(
        self,
        network: PCTSemanticSegmenter,
        class_names: Sequence[str] | None = None,
        ignore_index: int = -1,
        class_weights: Sequence[float] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        window_size: float = 1.0,
        window_stride: float = 0.5,
        window_points: int = 4096,
        memory_limit_gb: float | None = None,
        label_smoothing: float = 0.0,
        **recipe: Any,
    ) -> None:
        super().__init__(network, label_smoothing=label_smoothing, **recipe)
        num_classes = network.num_classes
        if class_names is not None and len(class_names) != num_classes:
            raise ConfigError(f"{len(class_names)} class_names for a network with {num_classes} classes")
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int) or 0 <= ignore_index < num_classes:
            raise ConfigError(
                f"ignore_index must be an integer outside the class ids 0..{num_classes - 1}, got {ignore_index!r}"
            )
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ConfigError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        if memory_limit_gb is not None and not memory_limit_gb > 0:
            raise ConfigError(f"memory_limit_gb must be positive (or None: the device's memory), got {memory_limit_gb!r}")
        self.class_names = list(class_names) if class_names is not None else [f"class {i}" for i in range(num_classes)]
        self.ignore_index = ignore_index
        self.chunk_size = chunk_size
        self.windows = SlidingWindows(window_size, window_stride, window_points)
        self.memory_limit_gb = memory_limit_gb
        self.register_buffer("loss_weights", self._weights(class_weights, num_classes), persistent=False)
        self._weights_given = class_weights is not None
        self.height_channel: int | None = None
        self.val_confusion = MulticlassConfusionMatrix(num_classes, ignore_index=ignore_index)
        self.test_confusion = MulticlassConfusionMatrix(num_classes, ignore_index=ignore_index)

    @staticmethod
    def _weights(class_weights: Sequence[float] | Tensor | None, num_classes: int) -> Tensor:
        if class_weights is None:
            return torch.ones(num_classes)
        weights = torch.as_tensor(class_weights, dtype=torch.float32).flatten()
        if weights.numel() != num_classes or not bool(weights.isfinite().all()) or bool((weights < 0).any()):
            raise ConfigError(
                f"class_weights must be {num_classes} finite non-negative numbers, got {weights.numel()} values"
            )
        return weights

    # Set-up ---------------------------------------------------------------------------------------

    @property
    def attention(self) -> str:
        return self.network.encoder.attention

    def setup(self, stage: str) -> None:
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is None:
            return
        if stage == "fit" and not self._weights_given:
            weights = getattr(datamodule, "class_weights", None)
            if weights is not None:
                self.loss_weights = self._weights(weights, self.network.num_classes).to(self.loss_weights.device)
        self.height_channel = height_channel(getattr(datamodule, "features", None))
        crop = getattr(datamodule, "crop", None)
        batch_size = getattr(datamodule, "batch_size", None)
        if stage == "fit" and isinstance(getattr(crop, "num_points", None), int) and isinstance(batch_size, int):
            self.check_fits(batch_size, crop.num_points, training=True, what="data.init_args.num_points")

    def memory_limit(self) -> int:
        """Bytes a self-attention pass may take (``memory_limit_gb`` or the device's memory)."""
        if self.memory_limit_gb is not None:
            return int(self.memory_limit_gb * 2**30)
        return device_memory_bytes(self.device)

    def check_fits(self, num_clouds: int, num_points: int, training: bool, what: str) -> None:
        """Refuse, in one line and before allocating, a self-attention pass whose N x N maps would
        exceed :meth:`memory_limit` (:func:`~pointea.models.scene_evaluation.check_self_attention_fits`)."""
        check_self_attention_fits(self.network.encoder, num_clouds, num_points, training, self.memory_limit(), what)

    # Steps ----------------------------------------------------------------------------------------

    def forward(self, points: Tensor, features: Tensor | None = None) -> Tensor:
        """Shapes: points (B, N, 3); features (B, N, C) or ``None``; returns logits (B, N, K)."""
        return self.network(points, features)

    def _loss(self, scores: Tensor, labels: Tensor, log_probabilities: bool = False) -> Tensor:
        """Shapes: scores (B, N, K) logits (or log-probabilities); labels (B, N)."""
        flat, targets = scores.flatten(0, 1), labels.flatten()  # (B * N, K), (B * N,)
        if not bool((targets != self.ignore_index).any()):
            return scores.sum() * 0.0  # nothing labelled in the batch: no loss, gradients stay defined
        if log_probabilities:
            return F.nll_loss(flat, targets, weight=self.loss_weights, ignore_index=self.ignore_index)
        return F.cross_entropy(
            flat, targets, weight=self.loss_weights, ignore_index=self.ignore_index, label_smoothing=self.label_smoothing
        )

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        logits = self.network(batch["points"], batch.get("features"))  # (B, N, K)
        loss = self._loss(logits, batch["labels"])
        self.log("train/loss", loss, prog_bar=True, batch_size=batch["points"].shape[0])
        return loss

    def scene_probabilities(self, points: Tensor, features: Tensor | None) -> Tensor:
        """Class probabilities of every point of a batch, with test-time voting (``votes``).

        A whole scene (B = 1) goes through :meth:`_scene_logits`' exact chunked pass (external
        attention) or sliding windows (self-attention); crops (B > 1) through the plain forward.

        Shapes: points (B, N, 3); features (B, N, C) or ``None``; returns (B, N, K)
        """
        if points.shape[0] > 1:
            self.check_fits(points.shape[0], points.shape[1], training=False, what="the batch size")
            return self.check_finite_output(self.voting(lambda p: self.network(p, features), points), "probabilities")
        return self.check_finite_output(self.voting(lambda p: self._scene(p, features), points), "probabilities")

    def _scene(self, points: Tensor, features: Tensor | None) -> Tensor:
        """Shapes: points (1, N, 3); features (1, N, C) or ``None``; returns (1, N, K) scores."""
        return scene_logits(
            self.network, points, features, self.chunk_size, self.windows, self.memory_limit(), self.height_channel
        )

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        probabilities = self.scene_probabilities(batch["points"], batch.get("features"))  # (B, N, K)
        loss = self._loss(probabilities.clamp_min(1e-12).log(), batch["labels"], log_probabilities=True)
        self.log("val/loss", loss, sync_dist=True, batch_size=batch["points"].shape[0])
        self.val_confusion.update(probabilities.argmax(dim=-1).flatten(), batch["labels"].flatten())

    def on_validation_epoch_end(self) -> None:
        scores = scene_scores(self.val_confusion.compute())  # synchronised across processes
        self.val_confusion.reset()
        if scores["points"] == 0:
            if not self.trainer.sanity_checking:
                rank_zero_warn("val: no labelled point in the validation scenes: val/miou is not logged")
            return
        self.log("val/miou", scores["miou"].float(), prog_bar=True)
        self.log("val/macc", scores["macc"].float())
        self.log("val/oa", scores["oa"].float())

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        probabilities = self.scene_probabilities(batch["points"], batch.get("features"))  # (B, N, K)
        self.test_confusion.update(probabilities.argmax(dim=-1).flatten(), batch["labels"].flatten())

    def on_test_epoch_end(self) -> None:
        confusion = self.test_confusion.compute()  # (K, K), synchronised across processes
        self.test_confusion.reset()
        scores = scene_scores(confusion)
        if scores["points"] == 0:
            raise DataError(
                "test: no labelled point in the test scenes (every label is ignore_index): there is nothing to score"
            )
        self.log("test/miou", scores["miou"].float())
        self.log("test/macc", scores["macc"].float())
        self.log("test/oa", scores["oa"].float())
        for name, iou in zip(self.class_names, scores["iou"]):
            if not torch.isnan(iou):
                self.log(f"test/iou/{name}", iou.float())
        self._write_confusion(confusion.cpu())

    @rank_zero_only
    def _write_confusion(self, confusion: Tensor) -> None:
        folder = Path(self.trainer.log_dir or self.trainer.default_root_dir)
        folder.mkdir(parents=True, exist_ok=True)
        write_confusion_csv(folder / "confusion_matrix.csv", confusion, self.class_names)
        try:
            write_confusion_picture(folder / "confusion_matrix.png", confusion, self.class_names)
        except ImportError as error:
            rank_zero_warn(f"confusion_matrix.png not written: {error} (pip install matplotlib, or pointea[viz])")

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Per scene: ``index`` (B,); per point: the served ``points`` (B, N, 3), predicted
        ``labels`` (B, N), their ``confidence`` (B, N), and ``true_labels`` (B, N) when served."""
        probabilities = self.scene_probabilities(batch["points"], batch.get("features"))  # (B, N, K)
        confidence, labels = probabilities.max(dim=-1)
        output = {"index": batch["index"], "points": batch["points"], "labels": labels, "confidence": confidence}
        if "labels" in batch:
            output["true_labels"] = batch["labels"]
        return output

    def cloud_prediction(self, row: dict[str, Any]) -> CloudPrediction:
        """One scene of :meth:`predict_step`'s output for the predictions writer (class counts in the CSV)."""
        outputs = {"labels": row["labels"], "cloud": row["points"], "true_labels": row.get("true_labels")}
        return CloudPrediction(int(row["index"]), points=int(row["points"].shape[0]), outputs=outputs)

    # Checkpoints ----------------------------------------------------------------------------------

    def label_record(self) -> dict[str, Any]:
        return {"classes": self.class_names, "ignore_index": self.ignore_index}

    def label_names(self) -> dict[str, list[str]]:
        return {"labels": self.class_names, "true_labels": self.class_names}


def height_channel(features: Sequence[str] | None) -> int | None:
    """The feature channel that holds height above the crop's floor, if the data module serves it."""
    if not features or "height" not in features:
        return None
    from pointea.data.scenes import FEATURES

    offset = 0
    for name in features:
        if name == "height":
            return offset
        offset += FEATURES[name]
    return None
