"""Normals: true normals next to estimated ones, and the angle between them, in a window or a
headless picture.

Usage (from the repository root)::

    python -m visualize.normals --config configs/modelnet40_normals.yaml [--ckpt CKPT] --index I [--save out.png]
    python -m visualize.normals --predictions DIR/NAME.normals.npz [--save out.png]

The first form runs the config's normal estimator (its checkpoint, or randomly initialised and
titled so) on one cloud of the config's data; the second shows what ``pointea-predict`` wrote for
a file (its ``normals`` and, when the file had its own, ``true_normals``). Tiles, seen by one
camera: the true normals, the estimated normals (both coloured by direction: red, green and blue
are the absolute x, y and z components, so a normal and its opposite share a colour, as the
sign-free metric counts them), and the sign-free angular error of every point (viridis from 0 to
90 degrees, title: mean and median). Without true normals only the estimate is shown. The window
shows them side by side; N / P step through the split.

Shape legend: N points.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pointea.errors import CheckpointError, InputError
from pointea.training.cli import load_config
from visualize.arguments import MIN_TILE_SIZE, CommandParser, add_model_arguments, check_index, int_option, run_command
from visualize.cloud import Cloud, fixed_camera
from visualize.colors import scalar_colors
from visualize.loading import reinitialise
from visualize.picture import GridLayout, Tile, point_size_for
from visualize.render import MAX_TILE_SIZE
from visualize.window import browse_or_save

__all__ = ["NormalsRecord", "direction_colors", "error_degrees", "normals_clouds", "normals_tiles", "main"]


def direction_colors(normals: np.ndarray) -> np.ndarray:
    """RGB = the absolute x, y, z components of each unit normal (sign-free).

    Shapes:
        normals: (N, 3); returns (N, 3) float64 in [0, 1]
    """
    normals = np.asarray(normals, dtype=np.float64)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    return np.abs(normals) / np.maximum(length, 1e-12)


def error_degrees(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Sign-free angle between each estimate and its true normal, in degrees (0..90).

    Shapes:
        estimate, truth: (N, 3); returns (N,) float64
    """
    m, n = np.asarray(estimate, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    cross = np.linalg.norm(np.cross(m, n), axis=1)
    return np.degrees(np.arctan2(cross, np.abs((m * n).sum(1))))


@dataclass(frozen=True)
class NormalsRecord:
    """One cloud to show. Shapes: points, estimate (N, 3); truth (N, 3) or None."""

    points: np.ndarray
    estimate: np.ndarray
    truth: np.ndarray | None
    caption: str


def normals_clouds(record: NormalsRecord) -> list[tuple[Cloud, str]]:
    """(cloud, title) per tile: truth, estimate, error; the estimate alone without truth."""
    estimate = (Cloud(record.points, direction_colors(record.estimate)), "estimated normals (|x|, |y|, |z| as RGB)")
    if record.truth is None:
        return [estimate]
    angles = error_degrees(record.estimate, record.truth)
    error = Cloud(record.points, scalar_colors(angles / 90.0, rescale=False))
    title = f"angle error: mean {angles.mean():.1f}, median {np.median(angles):.1f} deg (0..90)"
    return [(Cloud(record.points, direction_colors(record.truth)), "true normals"), estimate, (error, title)]


def normals_tiles(record: NormalsRecord, tile_size: int) -> tuple[GridLayout, dict[tuple[int, int], Tile]]:
    """The picture's layout (1 x 3, or 1 x 1 without truth) and tiles."""
    camera = fixed_camera(record.points)
    size = point_size_for(record.points.shape[0], tile_size)
    clouds = normals_clouds(record)
    tiles = {(0, col): Tile(cloud, camera, title, size) for col, (cloud, title) in enumerate(clouds)}
    return GridLayout(rows=1, cols=len(clouds), tile_width=tile_size, tile_height=tile_size), tiles


def _prediction_record(path: Path) -> NormalsRecord:
    """What ``pointea-predict`` wrote for one file (``<name>.normals.npz``)."""
    if not path.is_file():
        raise InputError(f"--predictions {path}: no such file")
    try:
        with np.load(path) as saved:
            arrays = {key: saved[key] for key in saved.files}
    except (OSError, ValueError) as error:
        raise InputError(f"--predictions {path}: not a .npz file ({str(error).splitlines()[0]})") from None
    if "points" not in arrays or "normals" not in arrays:
        raise InputError(f"--predictions {path}: expected 'points' and 'normals' (a .normals.npz of pointea-predict)")
    points, normals = arrays["points"], arrays["normals"]
    if points.shape != normals.shape or points.ndim != 2 or points.shape[1] != 3:
        raise InputError(f"--predictions {path}: points {points.shape} and normals {normals.shape} must both be (N, 3)")
    return NormalsRecord(points, normals, arrays.get("true_normals"), f"{path.name}: {points.shape[0]} points")


def _data_records(args: argparse.Namespace):
    """The config's split, its network (checkpoint or random) and a function index -> record."""
    from pointea.data.normals import NormalsDataModule
    from pointea.models import PCTNormalEstimator

    overrides = ["--data.init_args.root", str(args.data_root)] if args.data_root is not None else []
    cli = load_config(args.config, overrides)
    data = cli.datamodule
    if not isinstance(data, NormalsDataModule):
        raise InputError(f"{args.config}: data is a {type(data).__name__}; visualize.normals needs a NormalsDataModule config")
    data.prepare_data()
    data.setup("test" if args.split == "test" else "fit")
    dataset = data.test_set if args.split == "test" else data.train_set
    if args.ckpt is None:
        network, note = reinitialise(cli.model.network, args.seed), f"random init (seed {args.seed}), untrained"
    else:
        try:
            network, note = PCTNormalEstimator.from_checkpoint(args.ckpt), f"checkpoint {Path(args.ckpt).name}"
        except CheckpointError as error:
            raise InputError(str(error)) from None
    network = network.to(args.device).eval()

    def record(index: int) -> NormalsRecord:
        item = dataset[index]
        with torch.no_grad():
            estimate = network(item["points"][None].to(args.device))[0].cpu().numpy()  # (1, N, 3) -> (N, 3)
        caption = f"{args.split} {index} of {data.source}"
        return NormalsRecord(item["points"].numpy(), estimate, item["normals"].numpy(), caption)

    return record, len(dataset), note, data.source


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="python -m visualize.normals",
        description="True vs estimated normals and their angle: open3d window, or --save a PNG.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="a normal estimation config (YAML), e.g. configs/modelnet40_normals.yaml")
    source.add_argument("--predictions", type=Path, help="a <name>.normals.npz that pointea-predict wrote")
    parser.add_argument("--split", default="test", choices=("train", "test"), help="split to show (default: test)")
    parser.add_argument("--index", type=int, default=0, help="sample index in the split (default: 0)")
    parser.add_argument("--data-root", help="data folder, overriding the config's")
    parser.add_argument("--save", metavar="PICTURE", help="render headless to this .png or .jpg instead of opening a window")
    parser.add_argument("--tile-size", type=int_option(MIN_TILE_SIZE, MAX_TILE_SIZE), default=256,
                        help=f"pixels per picture tile, {MIN_TILE_SIZE}..{MAX_TILE_SIZE} (default: 256)")  # fmt: skip
    add_model_arguments(parser)
    return parser


def _command(args: argparse.Namespace) -> int:
    if args.predictions is not None:
        single = _prediction_record(args.predictions)
        record, count, note = (lambda index: single), 1, "pointea-predict output"
        args.index = 0
    else:
        record, count, note, source = _data_records(args)
        check_index(args.index, count, args.split, source)
    def window(sample: NormalsRecord) -> tuple[list[Cloud], str]:
        clouds = normals_clouds(sample)
        return [cloud for cloud, _ in clouds], ", ".join(title for _, title in clouds)

    return browse_or_save("normals", record, count, args.index, note, normals_tiles, window, args.save, args.tile_size)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m visualize.normals``."""
    return run_command(_parser(), _command, argv)


if __name__ == "__main__":
    sys.exit(main())
