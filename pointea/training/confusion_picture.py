"""A confusion matrix as a picture (matplotlib PNG) and as a CSV table.

Rows are the true classes, columns the predicted ones. The picture colours each row by its share
of the row's points (recall per cell, so rare classes are as readable as walls and floors) and
prints the share in every cell; the CSV holds the raw point counts.

Shape legend: K classes.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from torch import Tensor

__all__ = ["write_confusion_picture", "write_confusion_csv"]


def _replace_atomically(path: Path, write) -> None:
    temporary = path.with_name(f".{path.name}.partial")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_confusion_csv(path: Path, confusion: Tensor, names: Sequence[str]) -> None:
    """``truth \\ predicted`` header, one row of point counts per true class. Shapes: confusion (K, K)."""

    def write(target: Path) -> None:
        with open(target, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["truth \\ predicted", *names])
            for name, row in zip(names, confusion.long().tolist()):
                writer.writerow([name, *row])

    _replace_atomically(path, write)


def write_confusion_picture(path: Path, confusion: Tensor, names: Sequence[str]) -> None:
    """A PNG of the row-normalised confusion matrix with the share printed in each cell.

    Raises ``ImportError`` when matplotlib is not installed. Shapes: confusion (K, K).
    """
    import matplotlib

    matplotlib.use("Agg")  # headless: no display is needed or opened
    import matplotlib.pyplot as plt

    counts = confusion.double()
    shares = counts / counts.sum(dim=1, keepdim=True).clamp_min(1)  # (K, K): each row sums to 1 (or 0)
    size = max(4.0, 0.55 * len(names) + 2.0)
    figure, axes = plt.subplots(figsize=(size, size * 0.9))
    try:
        image = axes.imshow(shares.numpy(), cmap="Blues", vmin=0.0, vmax=1.0)
        axes.set_xticks(range(len(names)), labels=list(names), rotation=60, ha="right")
        axes.set_yticks(range(len(names)), labels=list(names))
        axes.set_xlabel("predicted")
        axes.set_ylabel("truth")
        total = counts.sum()
        hits = counts.diagonal().sum()
        axes.set_title(f"{int(total)} points, OA {float(hits / total.clamp_min(1)):.3f}")
        for row in range(len(names)):
            if counts[row].sum() == 0:
                continue
            for column in range(len(names)):
                share = float(shares[row, column])
                if share >= 0.005:
                    colour = "white" if share > 0.5 else "black"
                    axes.text(column, row, f"{share:.2f}", ha="center", va="center", fontsize=7, color=colour)
        figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the true class's points")
        figure.tight_layout()
        _replace_atomically(path, lambda target: figure.savefig(target, dpi=110, format="png"))
    finally:
        plt.close(figure)

