"""Part segmentation: ground truth next to the prediction, in a window or a headless picture.

Usage (from the repository root)::

    python -m visualize.parts --config configs/demo_partseg.yaml [--ckpt CKPT] --index I [--save out.png]

The picture shows three tiles of one sample, seen by one camera: the true parts, the predicted
parts (argmax over the sample's category's parts, the ShapeNetPart convention), and the errors
(wrong points red, right ones grey). The window shows truth and prediction side by side; N / P
step through the split. Without ``--ckpt`` the model is randomly initialised and the title says so.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from pointea.errors import InputError
from visualize.arguments import check_index, model_viewer_parser, run_command
from visualize.attention import AttentionRecord, record_attention
from visualize.cloud import Cloud, fixed_camera
from visualize.colors import label_colors
from visualize.loading import load_data, load_model
from visualize.picture import GridLayout, Tile, point_size_for
from visualize.window import browse_or_save

__all__ = ["ERROR_COLORS", "main", "parts_clouds", "parts_tiles"]

# Error tile: right points light grey, wrong points red.
ERROR_COLORS = np.array([[0.8, 0.8, 0.8], [0.86, 0.08, 0.24]])


def parts_clouds(record: AttentionRecord) -> tuple[Cloud, Cloud, Cloud]:
    """Truth, prediction and errors of one sample, on the input points."""
    truth = Cloud(record.points, label_colors(record.truth, record.num_labels))
    prediction = Cloud(record.points, label_colors(record.prediction, record.num_labels))
    wrong = (record.truth != record.prediction).astype(np.int64)  # (N,) 1 where wrong
    return truth, prediction, Cloud(record.points, ERROR_COLORS[wrong])


def parts_tiles(record: AttentionRecord, tile_size: int) -> tuple[GridLayout, dict[tuple[int, int], Tile]]:
    """The picture's layout (1 x 3) and tiles."""
    camera = fixed_camera(record.points)
    size = point_size_for(record.points.shape[0], tile_size)
    wrong = int((record.truth != record.prediction).sum())
    titles = (record.truth_title, record.prediction_title, f"errors: {wrong} of {record.points.shape[0]} points")
    tiles = {(0, col): Tile(cloud, camera, title, size) for col, (cloud, title) in enumerate(zip(parts_clouds(record), titles))}
    return GridLayout(rows=1, cols=3, tile_width=tile_size, tile_height=tile_size), tiles


def _parser() -> argparse.ArgumentParser:
    return model_viewer_parser(
        "python -m visualize.parts", "Part segmentation, ground truth vs prediction: open3d window, or --save a PNG."
    )


def _command(args: argparse.Namespace) -> int:
    data = load_data(args.config, args.split, args.data_root)
    if data.task != "segmentation":
        raise InputError(f"{args.config} is a {data.task} config; visualize.parts needs a part segmentation config")
    check_index(args.index, len(data.dataset), args.split, data.description)
    model = load_model(args.config, args.ckpt, data, seed=args.seed, device=args.device)

    def record(index: int) -> AttentionRecord:
        return record_attention(model.network, data.dataset[index], data.label_names, args.split)

    def window(sample: AttentionRecord) -> tuple[list[Cloud], str]:
        truth, prediction, _ = parts_clouds(sample)
        return [truth, prediction], "left: truth, right: prediction"

    return browse_or_save("parts", record, len(data.dataset), args.index, model.note, parts_tiles, window, args.save, args.tile_size)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m visualize.parts``."""
    return run_command(_parser(), _command, argv)


if __name__ == "__main__":
    sys.exit(main())
