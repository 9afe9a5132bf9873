"""Writing ``pointea predict`` outputs to files a user can open.

Per-shape values go to ``predictions.csv`` (one row per shape, sorted by ``index``; integer label
columns get a ``<column>_name`` column beside them when the module knows the names). Per-point
arrays (part segmentation: the served points, predicted and true parts) go, with the per-shape
values, to ``predictions.npz`` (``numpy.load``). Under several processes each rank writes its own
``predictions.rank<r>.*`` files.

Shape legend: M shapes predicted, N points per shape.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import BasePredictionWriter

__all__ = ["PredictionWriter"]


class PredictionWriter(BasePredictionWriter):
    """Collects the dicts returned by ``predict_step`` and writes them once the epoch ends.

    Args:
        output_dir: where to write; ``None`` is ``<trainer.default_root_dir>/predictions``.
    """

    def __init__(self, output_dir: str | None = None) -> None:
        super().__init__(write_interval="epoch")
        self.output_dir = output_dir

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
        arrays = {key: torch.cat([b[key] for b in batches]).cpu().numpy() for key in batches[0]}  # (M, ...)
        order = np.argsort(arrays["index"], kind="stable") if "index" in arrays else slice(None)
        arrays = {key: value[order] for key, value in arrays.items()}
        folder = Path(self.output_dir or Path(trainer.default_root_dir) / "predictions")
        folder.mkdir(parents=True, exist_ok=True)
        stem = "predictions" if trainer.world_size == 1 else f"predictions.rank{trainer.global_rank}"
        names = pl_module.label_names() if hasattr(pl_module, "label_names") else {}
        self.write_csv(folder / f"{stem}.csv", {k: v for k, v in arrays.items() if v.ndim == 1}, names)
        if any(v.ndim > 1 for v in arrays.values()):
            np.savez_compressed(folder / f"{stem}.npz", **arrays)

    @staticmethod
    def write_csv(path: Path, columns: dict[str, np.ndarray], names: dict[str, list[str]]) -> None:
        """One row per shape. Shapes: columns values (M,)."""
        header: list[str] = []
        values: list[list[Any]] = []
        for key, column in columns.items():
            header.append(key)
            values.append([round(float(v), 6) if column.dtype.kind == "f" else int(v) for v in column])
            if key in names and names[key]:
                header.append(f"{key}_name")
                values.append([names[key][int(v)] for v in column])
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(zip(*values))
