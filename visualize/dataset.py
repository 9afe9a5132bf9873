"""Dataset browser: samples coloured by their class (ModelNet40) or parts (ShapeNetPart).

Usage (from the repository root)::

    python -m visualize.dataset --config CONFIG [--split test] [--index I] [--count K] [--save out.png]
    python -m visualize.dataset --files scans/*.ply [--points 4096] [--save out.png]

The window shows one sample at a time (N / P step). ``--save`` renders ``K`` samples from ``I`` on
in a grid (``--cols`` per row), each seen by its own fixed camera and titled with its label.
The served clouds are the evaluation pipeline's (the config's ``num_points``, no augmentation).
``--files`` shows point or mesh files instead (anything :func:`pointea.io.read_points` reads), one
tile each, coloured by their labels, else their colours, else z (:func:`file_cloud`).

Shape legend: N points, U distinct labels of a file.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from pointea.errors import InputError
from pointea.io import PointCloud
from visualize.arguments import MAX_SEED, MIN_TILE_SIZE, CommandParser, add_sample_arguments, check_index, int_option, run_command
from visualize.cloud import Cloud, fixed_camera
from visualize.colors import label_colors, scalar_colors
from visualize.loading import DataSplit, category_parts, load_data, local_parts, read_file
from visualize.picture import GridLayout, Tile, point_size_for, render_picture, save_image
from visualize.render import MAX_TILE_SIZE
from visualize.window import Frame, SampleBrowser, run_window

__all__ = ["MAX_COLS", "MAX_COUNT", "file_cloud", "file_title", "main", "sample_cloud", "sample_title"]

#: Most samples in one --save picture, and most tiles per row.
MAX_COUNT = 256
MAX_COLS = 32
#: Points shown per file with --files.
MAX_FILE_POINTS = 1_000_000


def sample_cloud(item: Mapping[str, Any], data: DataSplit) -> Cloud:
    """One dataset item coloured by its class (every point alike) or by its parts (each category's
    parts in the palette's first colours, see :func:`~visualize.loading.local_parts`)."""
    points = np.asarray(item["points"], dtype=np.float64)
    if data.task == "segmentation":
        category = int(item["category"])
        parts = local_parts(item["parts"], category)  # coloured as the parts viewer colours them
        return Cloud(points, label_colors(parts, len(category_parts(category))))
    labels = np.full(points.shape[0], int(item["label"]), dtype=np.int64)
    return Cloud(points, label_colors(labels, len(data.label_names)))


def sample_title(item: Mapping[str, Any], data: DataSplit) -> str:
    """``#index name``: the class, or the category of a part-segmentation sample."""
    label = int(item["category"] if data.task == "segmentation" else item["label"])
    return f"#{int(item['index'])} {data.label_names[label]}"


# Point files (read by visualize.loading.read_file) as the viewers draw them.


def file_cloud(cloud: PointCloud) -> Cloud:
    """The cloud coloured by its labels (any integers: one palette colour per distinct value),
    else its own colours, else its z coordinate."""
    points = cloud.points.astype(np.float64)
    if cloud.labels is not None:
        _, index = np.unique(cloud.labels, return_inverse=True)  # (N,) in [0, U)
        return Cloud(points, label_colors(index.reshape(-1), int(index.max()) + 1))
    if cloud.colours is not None:
        return Cloud(points, cloud.colours.astype(np.float64))
    return Cloud(points, scalar_colors(points[:, 2]))


def file_title(cloud: PointCloud) -> str:
    """``name: N points`` and what colours them."""
    name = cloud.path.name if cloud.path is not None else "points"
    kind = "mesh" if cloud.columns == ("mesh",) else f"{cloud.num_source_points:,} points"
    colour = "labels" if cloud.labels is not None else "rgb" if cloud.colours is not None else "z"
    return f"{name}: {kind}, {colour}"


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="python -m visualize.dataset",
        description="Browse a data set coloured by class or parts: open3d window, or --save a PNG grid.",
    )
    add_sample_arguments(parser)
    parser.add_argument(
        "--count", type=int_option(1, MAX_COUNT), default=1, help=f"samples in the --save picture, from --index on, 1..{MAX_COUNT} (default: 1)"
    )
    parser.add_argument("--cols", type=int_option(1, MAX_COLS), default=4, help=f"tiles per row of the --save picture, 1..{MAX_COLS} (default: 4)")
    parser.epilog = (
        "To show your own point or mesh files instead: --files FILE [FILE ...] [--points N] [--seed S] "
        "[--save PNG] [--tile-size PX] [--cols C]"
    )
    return parser


def _files_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="python -m visualize.dataset --files",
        description="Show point or mesh files (.ply .pcd .xyz .txt .csv .pts .npy .npz .las .laz .off .obj .stl): "
        "open3d window, or --save a PNG grid.",
    )
    parser.add_argument("--files", nargs="+", required=True, metavar="FILE", help="files to show, one tile each")
    parser.add_argument("--points", type=int_option(1, MAX_FILE_POINTS), default=4096, help=f"points shown per file: a seeded subset, or mesh samples, 1..{MAX_FILE_POINTS} (default: 4096)")
    parser.add_argument("--seed", type=int_option(0, MAX_SEED), default=0, help="seed of the subsets and mesh samples (default: 0)")
    parser.add_argument("--save", metavar="PICTURE", help="render headless to this .png or .jpg (its folder must exist) instead of opening a window")
    parser.add_argument("--tile-size", type=int_option(MIN_TILE_SIZE, MAX_TILE_SIZE), default=256, help=f"pixels per picture tile, {MIN_TILE_SIZE}..{MAX_TILE_SIZE} (default: 256)")
    parser.add_argument("--cols", type=int_option(1, MAX_COLS), default=4, help=f"tiles per row of the --save picture, 1..{MAX_COLS} (default: 4)")
    return parser


def _files_command(args: argparse.Namespace) -> int:
    if args.points < 1 or args.cols < 1:
        raise InputError(f"--points and --cols must be at least 1, got {args.points} and {args.cols}")
    clouds = [read_file(path, args.points, args.seed) for path in args.files]  # every file checked first
    if args.save:
        cols = min(args.cols, len(clouds))
        layout = GridLayout(rows=math.ceil(len(clouds) / cols), cols=cols, tile_width=args.tile_size, tile_height=args.tile_size)
        tiles = {}
        for position, cloud in enumerate(clouds):
            shown = file_cloud(cloud)
            size_px = point_size_for(shown.points.shape[0], args.tile_size)
            tiles[divmod(position, cols)] = Tile(shown, fixed_camera(shown.points), file_title(cloud), size_px)
        image = render_picture(layout, tiles, header=f"{len(clouds)} file(s)")
        print(f"wrote {save_image(image, args.save)}: {len(clouds)} file(s)")
        return 0
    def frame(index: int) -> Frame:
        title = file_title(clouds[index])
        return Frame((file_cloud(clouds[index]),), f"pointea files | {title}", title)

    run_window(SampleBrowser(frame, len(clouds)))
    return 0


def _command(args: argparse.Namespace) -> int:
    data = load_data(args.config, args.split, args.data_root)
    size = len(data.dataset)
    check_index(args.index, size, args.split, data.description)
    if args.save:
        indices = range(args.index, min(args.index + args.count, size))
        cols = min(args.cols, len(indices))
        layout = GridLayout(rows=math.ceil(len(indices) / cols), cols=cols, tile_width=args.tile_size, tile_height=args.tile_size)
        tiles = {}
        for position, index in enumerate(indices):
            item = data.dataset[index]
            cloud = sample_cloud(item, data)
            size_px = point_size_for(cloud.points.shape[0], args.tile_size)
            tiles[divmod(position, cols)] = Tile(cloud, fixed_camera(cloud.points), sample_title(item, data), size_px)
        image = render_picture(layout, tiles, header=f"{data.description} | {args.split} split")
        print(f"wrote {save_image(image, args.save)}: {len(indices)} samples of {data.description}")
        return 0
    def frame(index: int) -> Frame:
        item = data.dataset[index]
        title = sample_title(item, data)
        return Frame((sample_cloud(item, data),), f"pointea data | {data.description} | {title}", f"{data.description}\n{args.split} {title}")

    run_window(SampleBrowser(frame, size, start=args.index))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m visualize.dataset``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--files" in argv:
        return run_command(_files_parser(), _files_command, argv)
    return run_command(_parser(), _command, argv)


if __name__ == "__main__":
    sys.exit(main())
