"""``pointea predict`` outputs: the dicts ``predict_step`` returns, handed to the one predictions
writer (:mod:`pointea.io.predictions`) that ``pointea-predict`` uses too, so both write the same
``predictions.csv`` columns and ``predictions.json``.

Per-point tasks (part segmentation: the served points, predicted and true parts; normal
estimation: the served points, estimated and true normals) also get
``predictions.npz``, every array stacked in ``index`` order (``numpy.load``). Under several
processes each rank writes its own ``predictions.rank<r>.*`` files. Every file is written
atomically.

Shape legend: M shapes predicted, N points per shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter

from pointea.io.predictions import NormalOutputs, PerPointLabelOutputs, PredictionsWriter, task_outputs

__all__ = ["PredictionWriter"]


class PredictionWriter(BasePredictionWriter):
    """Collects the dicts returned by ``predict_step`` and writes them once the epoch ends.

    Args:
        output_dir: where to write; ``None`` is ``<trainer.default_root_dir>/predictions``.
        top_k: classification: labels per shape in the CSV.
    """

    def __init__(self, output_dir: str | None = None, top_k: int = 5) -> None:
        super().__init__(write_interval="epoch")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"prediction_writer.top_k must be an integer >= 1, got {top_k!r}")
        self.output_dir = output_dir
        self.top_k = top_k

    def write_on_epoch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        predictions: Any,
        batch_indices: Any,
    ) -> None:
        if predictions and isinstance(predictions[0], list):  # several dataloaders: one list each
            predictions = [batch for loader in predictions for batch in loader]
        batches: list[dict[str, torch.Tensor]] = predictions
        if not batches:
            return
        ragged = any(len({b[key].shape[1:] for b in batches}) > 1 for key in batches[0])  # whole scenes differ in N
        if ragged:  # one cloud per row, no stacked .npz
            rows = [{key: value[i].cpu().numpy() for key, value in b.items()} for b in batches for i in range(len(b["index"]))]
            arrays = {"index": np.array([int(row["index"]) for row in rows])}
        else:
            arrays = {key: torch.cat([b[key] for b in batches]).cpu().numpy() for key in batches[0]}  # (M, ...)
        order = np.argsort(arrays["index"], kind="stable")
        arrays = {key: value[order] for key, value in arrays.items()}
        folder = Path(self.output_dir or Path(trainer.default_root_dir) / "predictions")
        folder.mkdir(parents=True, exist_ok=True)
        stem = "predictions" if trainer.world_size == 1 else f"predictions.rank{trainer.global_rank}"
        options = {"top_k": self.top_k} if pl_module.TASK == "classification" else {}
        outputs = task_outputs(pl_module.TASK, pl_module.label_record(), **options)
        writer = PredictionsWriter(folder, outputs, per_cloud_files=False, stem=stem)
        for i in range(len(order)):
            row = rows[order[i]] if ragged else {key: value[i] for key, value in arrays.items()}
            writer.add(pl_module.cloud_prediction(row))
        writer.finish({"checkpoint": str(trainer.ckpt_path or "")})
        if isinstance(outputs, (PerPointLabelOutputs, NormalOutputs)) and not ragged:
            writer.write_arrays(arrays)
