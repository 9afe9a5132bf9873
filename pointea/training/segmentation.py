"""Part segmentation (ShapeNetPart) as a LightningModule.

Predictions are restricted to the parts of each shape's category (argmax over those logits only),
and scored with :class:`~pointea.training.part_iou.PartIoU`: instance mIoU and class mIoU under
the standard convention, plus the IoU of every category at test time.

Shape legend: B clouds, N points, K part labels, C categories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torchmetrics.classification import MulticlassAccuracy

from pointea.data.shapenetpart import ShapeNetPart
from pointea.io.predictions import CloudPrediction
from pointea.models.category_parts import CategoryParts
from pointea.models.segmenter import PCTPartSegmenter
from pointea.training.module import PointCloudModule
from pointea.training.part_iou import PartIoU

__all__ = ["PartSegmentation"]


class PartSegmentation(PointCloudModule):
    """Trains and evaluates a :class:`~pointea.PCTPartSegmenter` with PCT's recipe.

    Args:
        network: the part segmenter; under the CLI its ``num_parts`` and ``num_categories`` are
            linked from the data module.
        parts_per_category: category name -> global part ids, in category-id order; ``None`` is
            ShapeNetPart's standard map. Linked from the data module under the CLI.
        recipe: optimizer, scheduler, min_lr, label_smoothing, votes, compile, by keyword: see
            :class:`~pointea.training.module.PointCloudModule` (PCT's recipe by default).

    Batches: ``{"points": (B, N, 3) float, "category": (B,) long, "parts": (B, N) long,
    "index": (B,) long}``; ``parts`` is optional for ``predict``.

    Logged: ``train/loss``; ``val/loss``, ``val/instance_miou``, ``val/class_miou``,
    ``val/point_acc``; ``test/instance_miou``, ``test/class_miou``, ``test/point_acc`` and
    ``test/iou/<Category>`` for every category present in the test set.
    """

    TASK = "part_segmentation"
    MONITOR = "val/instance_miou"

    def __init__(
        self,
        network: PCTPartSegmenter,
        parts_per_category: Mapping[str, Sequence[int]] | None = None,
        **recipe: Any,
    ) -> None:
        super().__init__(network, **recipe)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)
        parts_per_category = ShapeNetPart.PARTS_PER_CATEGORY if parts_per_category is None else parts_per_category
        self.category_parts = CategoryParts(parts_per_category, num_parts=network.num_parts)
        if self.category_parts.num_categories != network.num_categories:
            raise ValueError(
                f"parts_per_category has {self.category_parts.num_categories} categories, the network "
                f"{network.num_categories}"
            )
        self.val_iou = PartIoU(parts_per_category)
        self.test_iou = PartIoU(parts_per_category)
        self.val_point_acc = MulticlassAccuracy(network.num_parts, average="micro")
        self.test_point_acc = MulticlassAccuracy(network.num_parts, average="micro")

    def forward(self, points: Tensor, category: Tensor) -> Tensor:
        """Shapes: points (B, N, 3), category (B,); returns logits (B, N, K)."""
        return self.network(points, category)

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        logits = self.network(batch["points"], batch["category"])  # (B, N, K)
        loss = self.criterion(logits.flatten(0, 1), batch["parts"].flatten())  # (B * N, K), (B * N,)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        logits = self.check_finite_output(self.network(batch["points"], batch["category"]))  # (B, N, K)
        loss = self.criterion(logits.flatten(0, 1), batch["parts"].flatten())  # (B * N, K), (B * N,)
        self.log("val/loss", loss, sync_dist=True)
        self._score(logits, batch, self.val_iou, self.val_point_acc)

    def on_validation_epoch_end(self) -> None:
        scores = self.val_iou.compute()  # synchronised across processes
        self.log("val/instance_miou", scores["instance_miou"], prog_bar=True)
        self.log("val/class_miou", scores["class_miou"])
        self.log("val/point_acc", self.val_point_acc)
        self.val_iou.reset()

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        probabilities = self.vote(batch["points"], batch["category"])  # (B, N, K)
        self._score(probabilities, batch, self.test_iou, self.test_point_acc)

    def on_test_epoch_end(self) -> None:
        scores = self.test_iou.compute()
        self.log("test/instance_miou", scores["instance_miou"])
        self.log("test/class_miou", scores["class_miou"])
        self.log("test/point_acc", self.test_point_acc)
        for name, iou in zip(self.test_iou.category_names, scores["category_iou"]):
            if not torch.isnan(iou):
                self.log(f"test/iou/{name}", iou)
        self.test_iou.reset()

    def _score(self, scores: Tensor, batch: dict[str, Tensor], iou: PartIoU, point_acc: MulticlassAccuracy) -> None:
        """Shapes: scores (B, N, K) logits or probabilities."""
        predictions = self.category_parts.restricted_argmax(scores, batch["category"])  # (B, N)
        iou.update(predictions, batch["parts"], batch["category"])
        point_acc.update(predictions, batch["parts"])

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Per shape: ``index`` and ``category`` (B,); per point: the served ``points`` (B, N, 3)
        and predicted ``parts`` (B, N), restricted to the category's parts; ``true_parts`` (B, N)
        when the batch has labels."""
        probabilities = self.vote(batch["points"], batch["category"])  # (B, N, K)
        output = {
            "index": batch["index"],
            "category": batch["category"],
            "points": batch["points"],
            "parts": self.category_parts.restricted_argmax(probabilities, batch["category"]),
        }
        if "parts" in batch:
            output["true_parts"] = batch["parts"]
        return output

    def label_record(self) -> dict[str, Any]:
        mask = self.category_parts.mask  # (C, K)
        parts = {name: mask[i].nonzero().flatten().tolist() for i, name in enumerate(self.category_parts.names)}
        return {"categories": list(self.category_parts.names), "parts_per_category": parts}

    def cloud_prediction(self, row: dict[str, np.ndarray]) -> CloudPrediction:
        outputs = {
            "category": self.category_parts.names[int(row["category"])],
            "labels": row["parts"],
            "cloud": row["points"],
            "true_labels": row.get("true_parts"),
        }
        return CloudPrediction(int(row["index"]), points=int(row["points"].shape[0]), outputs=outputs)
