"""Training curves: loss and metrics from a run's Lightning ``CSVLogger`` log, as one PNG.

Usage::

    python -m visualize.curves RUN_DIR --save curves.png

``RUN_DIR`` is a folder holding ``metrics.csv`` (a logger version folder such as
``runs/demo/csv/version_0``), a folder with such folders below it, such as ``pointea fit``'s
``trainer.default_root_dir`` (the newest ``metrics.csv`` with training metrics is used, so a later
``pointea test`` log does not hide the training curves), or the CSV file itself.

Lightning writes one row per logging call; a metric's column is empty on the rows of other calls.
Metrics are grouped into panels by what they measure: ``train_loss``, ``val/loss`` and
``train_loss_epoch`` share the "loss" panel; ``val_acc`` and ``train/acc`` the "acc" panel.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from pointea.errors import InputError
from visualize.arguments import CommandParser, int_option
from visualize.picture import check_save_path, save_image

__all__ = ["Curve", "find_metrics_file", "group_curves", "main", "metric_group", "plot_curves", "read_curves"]

Curve = tuple[np.ndarray, np.ndarray]  # (x, y): step (or row) and value, rows where it was logged

_X_COLUMNS = ("epoch", "step")
#: Most panels per row of the picture.
MAX_COLUMNS = 16
_SPLIT = re.compile(r"^(train|val|valid|validation|test)[/_.]|[/_.](train|val|valid|validation|test)$")
_REDUCTION = re.compile(r"[/_.](step|epoch)$")


def find_metrics_file(path: str | Path) -> Path:
    """The ``metrics.csv`` of a run (see the module docstring).

    Raises:
        InputError: nothing to read there.
    """
    path = Path(path).expanduser()
    if path.is_file():
        return path
    if not path.exists():
        raise InputError(f"run folder not found: {path}")
    if (path / "metrics.csv").is_file():
        return path / "metrics.csv"
    found = sorted(path.rglob("metrics.csv"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise InputError(f"no metrics.csv under {path}: train with Lightning's CSVLogger (the pointea configs use it)")
    # ``pointea test`` after ``pointea fit`` logs to a newer version folder with test metrics only.
    training = [csv_path for csv_path in found if _logs_training(csv_path)]
    return (training or found)[-1]


def _logs_training(path: Path) -> bool:
    """Whether a ``metrics.csv`` has a training metric column (``train/loss``, ``train_acc``, ...)."""
    with open(path, newline="") as file:
        header = next(csv.reader(file), [])
    matches = (_SPLIT.search(name) for name in header)
    return any(match is not None and "train" in match.groups() for match in matches)


def read_curves(path: str | Path) -> dict[str, Curve]:
    """Every logged metric of a ``metrics.csv``: name -> (step, value) of the rows that hold it.

    The x axis is the ``step`` column (the optimizer step Lightning logged at); without one, the
    row number.

    Raises:
        InputError: not a CSV with a header, or no metric values in it.
    """
    with open(path, newline="") as file:
        rows = list(csv.DictReader(file))
    if not rows:
        raise InputError(f"{path}: no logged rows")
    names = [name for name in rows[0] if name not in _X_COLUMNS]
    curves: dict[str, Curve] = {}
    for name in names:
        xs, ys = [], []
        for row_number, row in enumerate(rows):
            value = _number(row.get(name))
            if value is None:
                continue
            step = _number(row.get("step"))
            xs.append(step if step is not None else float(row_number))
            ys.append(value)
        if ys:
            curves[name] = (np.asarray(xs), np.asarray(ys))
    if not curves:
        raise InputError(f"{path}: no metric values in it")
    return curves


def _number(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def metric_group(name: str) -> str:
    """What a metric measures, without its split and reduction: ``val/loss`` -> ``loss``,
    ``train_acc_epoch`` -> ``acc``, ``lr-SGD`` -> ``lr-SGD``."""
    stripped = _REDUCTION.sub("", name)
    stripped = _SPLIT.sub("", stripped)
    return stripped or name


def group_curves(curves: Mapping[str, Curve]) -> dict[str, list[str]]:
    """Panels: group -> metric names, losses first, then the rest in order of appearance."""
    groups: dict[str, list[str]] = {}
    for name in curves:
        groups.setdefault(metric_group(name), []).append(name)
    return dict(sorted(groups.items(), key=lambda item: (item[0] != "loss", list(groups).index(item[0]))))


def plot_curves(curves: Mapping[str, Curve], title: str, columns: int = 2) -> np.ndarray:
    """Draw one panel per metric group; returns the picture as an (H, W, 3) uint8 image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = group_curves(curves)
    columns = max(1, min(columns, len(groups)))
    rows = math.ceil(len(groups) / columns)
    figure = Figure(figsize=(5.0 * columns, 3.2 * rows + 0.4), dpi=100)
    canvas = FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False)
    for ax, (group, names) in zip(axes.flat, groups.items()):
        for name in names:
            x, y = curves[name]
            ax.plot(x, y, marker="o" if len(x) < 30 else None, markersize=3, label=name)
        ax.set_title(group)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="python -m visualize.curves",
        description="Plot loss and metrics from a Lightning CSVLogger run (metrics.csv) to a PNG.",
    )
    parser.add_argument("run", help="run folder (with metrics.csv, or versions below it) or the CSV file")
    parser.add_argument("--save", required=True, help="picture to write (.png, .jpg)")
    parser.add_argument("--columns", type=int_option(1, MAX_COLUMNS), default=2, help="panels per row (default 2)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m visualize.curves``."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        save = check_save_path(args.save)  # before reading and plotting anything
        path = find_metrics_file(args.run)
        image = plot_curves(read_curves(path), title=str(path), columns=args.columns)
        print(f"wrote {save_image(image, save)} from {path}")
    except InputError as error:
        parser.error(str(error))
    return 0


if __name__ == "__main__":
    sys.exit(main())
