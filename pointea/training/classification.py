"""Shape classification (ModelNet40) as a LightningModule.

Metrics (torchmetrics, synchronised across processes): overall accuracy (``acc``, micro average)
and mean class accuracy (``mean_class_acc``, macro average), the two numbers ModelNet40 papers
report.

Shape legend: B clouds, N points, K classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from pointea.io.predictions import CloudPrediction
from pointea.models.classifier import PCTClassifier
from pointea.training.module import PointCloudModule

__all__ = ["PointCloudClassifier"]


class PointCloudClassifier(PointCloudModule):
    """Trains and evaluates a :class:`~pointea.PCTClassifier` with PCT's recipe.

    Args:
        network: the classifier; under the CLI its ``num_classes`` is linked from the data module.
        class_names: names of the classes in label order, for predictions; linked from the data
            module under the CLI.
        recipe: optimizer, scheduler, min_lr, label_smoothing, votes, compile, by keyword: see
            :class:`~pointea.training.module.PointCloudModule` (PCT's recipe by default).

    Batches: ``{"points": (B, N, 3) float, "label": (B,) long, "index": (B,) long}``; ``label`` is
    optional for ``predict``.

    Logged: ``train/loss``, ``train/acc``; ``val/loss``, ``val/acc``, ``val/mean_class_acc``;
    ``test/acc``, ``test/mean_class_acc`` (with voting when ``votes > 1``).
    """

    TASK = "classification"
    MONITOR = "val/acc"

    def __init__(
        self,
        network: PCTClassifier,
        class_names: list[str] | None = None,
        **recipe: Any,
    ) -> None:
        super().__init__(network, **recipe)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)
        num_classes = network.num_classes
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class_names for a network with {num_classes} classes")
        self.class_names = list(class_names) if class_names is not None else None
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_mean_class_acc = MulticlassAccuracy(num_classes, average="macro")
        self.test_acc = MulticlassAccuracy(num_classes, average="micro")
        self.test_mean_class_acc = MulticlassAccuracy(num_classes, average="macro")

    def forward(self, points: Tensor) -> Tensor:
        """Shapes: points (B, N, 3); returns logits (B, K)."""
        return self.network(points)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        logits = self.network(batch["points"])  # (B, K)
        loss = self.criterion(logits, batch["label"])
        self.train_acc(logits, batch["label"])
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        logits = self.check_finite_output(self.network(batch["points"]))  # (B, K)
        self.log("val/loss", self.criterion(logits, batch["label"]), sync_dist=True)
        self.val_acc(logits, batch["label"])
        self.val_mean_class_acc(logits, batch["label"])
        self.log("val/acc", self.val_acc, prog_bar=True)
        self.log("val/mean_class_acc", self.val_mean_class_acc)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        probabilities = self.vote(batch["points"])  # (B, K)
        self.test_acc(probabilities, batch["label"])
        self.test_mean_class_acc(probabilities, batch["label"])
        self.log("test/acc", self.test_acc)
        self.log("test/mean_class_acc", self.test_mean_class_acc)

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Per shape: ``index``, the voted class ``probabilities`` (B, K), ``num_points`` served (B,)
        and ``label`` (B,) when the batch has one."""
        probabilities = self.vote(batch["points"])  # (B, K)
        count = torch.full_like(batch["index"], batch["points"].shape[1])  # (B,)
        output = {"index": batch["index"], "probabilities": probabilities, "num_points": count}
        if "label" in batch:
            output["label"] = batch["label"]
        return output

    def cloud_prediction(self, row: dict[str, np.ndarray]) -> CloudPrediction:
        outputs = {"probabilities": row["probabilities"], "label": row.get("label")}
        return CloudPrediction(int(row["index"]), points=int(row["num_points"]), outputs=outputs)

    def label_record(self) -> dict[str, Any]:
        return {"classes": self.class_names}

