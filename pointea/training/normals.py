"""Normal estimation as a LightningModule: PCT's fourth task.

The loss is the mean cosine distance between estimated and true normals, sign-free by default
(``1 - |cos|``: a sampled surface has no inside or outside) or signed with ``oriented=True``
(``1 - cos``). The metrics are :class:`~pointea.training.normal_error.NormalError`'s (mean and
median angular error in degrees, the share of points under 5, 10, 20 and 30 degrees, the mean
cosine distance), synchronised across processes; their definitions are in
:mod:`pointea.training.normal_error`.

Shape legend: B clouds, N points, C input feature channels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pytorch_lightning.cli import LRSchedulerCallable, OptimizerCallable
from torch import Tensor, nn

from pointea.io.predictions import CloudPrediction
from pointea.training.module import PCT_MIN_LR, PointCloudModule
from pointea.training.normal_error import THRESHOLDS, NormalError, normal_loss

__all__ = ["NormalEstimation"]


class NormalEstimation(PointCloudModule):
    """Trains and evaluates a :class:`~pointea.PCTNormalEstimator` (PCT's optimiser and cosine
    schedule by default).

    Args:
        network: the normal estimator (unit vectors per point).
        oriented: train and score signed normals (``1 - cos``) instead of sign-free ones
            (``1 - |cos|``, the default); use it only for data whose normals are consistently
            oriented (e.g. outwards) and networks meant to learn that.
        optimizer, scheduler, min_lr, compile: see :class:`~pointea.training.module.PointCloudModule`.
        votes: must be 1: scale voting averages class probabilities, which normals are not.

    Batches: ``{"points": (B, N, 3) float, "normals": (B, N, 3) float, "index": (B,) long}``, plus
    ``"features"`` (B, N, C) when the network takes input features and ``"label"`` (B,) where the
    source has a class; ``normals`` is optional for ``predict``.

    Logged: ``train/loss``; ``val/loss`` and, for ``val`` and ``test``: ``mean_angle``,
    ``median_angle`` (degrees), ``under_5`` ... ``under_30`` (shares in [0, 1]),
    ``cosine_distance`` and ``cosine_similarity`` (``1 - cosine_distance``, the metric the best
    checkpoint is chosen by, higher is better).
    """

    TASK = "normal_estimation"
    MONITOR = "val/cosine_similarity"

    def __init__(
        self,
        network: nn.Module,
        oriented: bool = False,
        optimizer: OptimizerCallable | None = None,
        scheduler: LRSchedulerCallable | None = None,
        min_lr: float = PCT_MIN_LR,
        votes: int = 1,
        compile: bool = False,
    ) -> None:
        if votes != 1:
            raise ValueError(
                f"NormalEstimation: votes must be 1, got {votes}: scale voting averages class probabilities, "
                "and normals are not class probabilities"
            )
        super().__init__(network, optimizer, scheduler, min_lr, label_smoothing=0.0, votes=1, compile=compile)
        self.oriented = oriented
        self.val_error = NormalError(oriented=oriented)
        self.test_error = NormalError(oriented=oriented)

    def forward(self, points: Tensor, features: Tensor | None = None) -> Tensor:
        """Shapes: points (B, N, 3), features (B, N, C) or None; returns unit normals (B, N, 3)."""
        return self.network(points, features)

    def _estimate(self, batch: dict[str, Tensor]) -> Tensor:
        """Shapes: returns (B, N, 3)."""
        return self.network(batch["points"], batch.get("features"))

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        loss = normal_loss(self._estimate(batch), batch["normals"], self.oriented)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        estimate = self.check_finite_output(self._estimate(batch), "normals")  # (B, N, 3)
        self.log("val/loss", normal_loss(estimate, batch["normals"], self.oriented), sync_dist=True)
        self.val_error.update(estimate, batch["normals"])

    def on_validation_epoch_end(self) -> None:
        self._log_scores("val", self.val_error)

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        estimate = self.check_finite_output(self._estimate(batch), "normals")  # (B, N, 3)
        self.test_error.update(estimate, batch["normals"])

    def on_test_epoch_end(self) -> None:
        self._log_scores("test", self.test_error)

    def _log_scores(self, stage: str, metric: NormalError) -> None:
        scores = metric.compute()  # synchronised across processes
        names = ["mean_angle", "median_angle", "cosine_distance", *(f"under_{t}" for t in THRESHOLDS)]
        for name in names:
            self.log(f"{stage}/{name}", scores[name].float(), prog_bar=name == "mean_angle")
        self.log(f"{stage}/cosine_similarity", (1.0 - scores["cosine_distance"]).float())
        metric.reset()

    def predict_step(self, batch: dict[str, Tensor], batch_idx: int) -> dict[str, Tensor]:
        """Per shape: ``index`` (B,); per point: the served ``points`` and the estimated
        ``normals`` (B, N, 3); ``true_normals`` (B, N, 3) when the batch has them."""
        output = {
            "index": batch["index"],
            "points": batch["points"],
            "normals": self.check_finite_output(self._estimate(batch), "normals"),
        }
        if "normals" in batch:
            output["true_normals"] = batch["normals"]
        return output

    def cloud_prediction(self, row: dict[str, np.ndarray]) -> CloudPrediction:
        """One cloud of :meth:`predict_step`'s output for the predictions writer, scored against
        its true normals when the batch had them."""
        outputs: dict[str, Any] = {"normals": row["normals"], "cloud": row["points"], "orientation": "none"}
        if row.get("true_normals") is not None:
            metric = NormalError(oriented=self.oriented)
            metric.update(torch.from_numpy(row["normals"]), torch.from_numpy(row["true_normals"]))
            outputs.update(true_normals=row["true_normals"], error={k: float(v) for k, v in metric.compute().items()})
        return CloudPrediction(int(row["index"]), points=int(row["points"].shape[0]), outputs=outputs)

    def label_record(self) -> dict[str, Any]:
        return {"oriented": self.oriented}
