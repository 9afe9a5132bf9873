"""The ``pointea-data`` command: write the synthetic sets, verify a folder, download an archive.

    pointea-data synth --root data/synthetic [--seed 0] [--train-per-class 64] ...
    pointea-data verify data/synthetic
    pointea-data verify data/modelnet40_normal_resampled [--layout NAME] [--missing skip]
    pointea-data download modelnet40 --root data [--url URL] [--sha256 HEX] [--timeout 60] \
        [--deadline 7200]

Exit status: 0 on success, 1 on a data problem (one ``error:`` line naming the file), 2 on a usage
error (argparse's ``error:`` line, naming the option and its allowed range), 130 when interrupted
(Ctrl-C, SIGINT) and 143 when terminated (SIGTERM): both end with one ``error:`` line, after a
download's temporary folder has been removed.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType

from pointea.data.download import (
    ARCHIVES,
    MAX_DEADLINE,
    MAX_TIMEOUT,
    check_sha256,
    download_archive,
)
from pointea.data.modelnet40 import ModelNet40
from pointea.data.arguments import MAX_SEED, MAX_SYNTHETIC_PER_LABEL, int_option, seconds_option
from pointea.data.shapenetpart import ShapeNetPart
from pointea.data.synthetic import write_synthetic_modelnet40, write_synthetic_shapenetpart
from pointea.data.verify import verify_folder
from pointea.errors import DataError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, except that a usage error prints its ``error:`` line first and a one-line hint,
    not the whole usage block (exit status 2, as argparse). Sub-commands inherit it."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n{self.prog} --help lists the options\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pointea-data", description="Synthetic data, verification and downloads for pointea."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="write the synthetic sets in the two archive layouts")
    synth.add_argument("--root", required=True, help="folder that receives the archive folders")
    size = int_option(1, MAX_SYNTHETIC_PER_LABEL)
    synth.add_argument("--seed", type=int_option(0, MAX_SEED), default=0)
    synth.add_argument("--only", choices=("modelnet40", "shapenetpart"), help="write one set only")
    synth.add_argument("--train-per-class", type=size, default=64, help="classification, per class")
    synth.add_argument("--test-per-class", type=size, default=16, help="classification, per class")
    synth.add_argument("--train-per-category", type=size, default=100, help="parts, per category")
    synth.add_argument("--val-per-category", type=size, default=20, help="parts, per category")
    synth.add_argument("--test-per-category", type=size, default=20, help="parts, per category")

    scenes = commands.add_parser(
        "synth-scenes",
        help="write procedural rooms (S3DIS classes, Pointcept layout) and lidar tiles (LAS)",
    )  # scenes: pointea.data.synthetic_scenes
    scenes.add_argument(
        "--rooms", help="folder that receives Area_N/room_K/ (coord, color, segment .npy)"
    )
    scenes.add_argument("--tiles", help="folder that receives tile_K.las")
    scenes.add_argument("--seed", type=int_option(0, MAX_SEED), default=0)
    scenes.add_argument("--rooms-per-area", type=int_option(1, 1000), default=2, help="areas 1..6")
    scenes.add_argument("--num-tiles", type=int_option(1, 1000), default=6, help="60 m x 60 m each")

    verify = commands.add_parser("verify", help="check a folder's archives; exit 1 on a problem")
    verify.add_argument("folder", help="an archive folder, or a folder containing archive folders")
    verify.add_argument(
        "--layout",
        default="auto",
        help="auto (every layout found; the default) or one of: modelnet40_hdf5, shapenetpart_hdf5, "
        "modelnet40_normal_resampled, modelnet40_off, shapenetpart_v0_normal, shapenetpart_v0, "
        "scanobjectnn",
    )
    verify.add_argument(
        "--missing",
        choices=("error", "skip"),
        default="error",
        help="listed files that are absent: a problem (default), or a note (for subsets)",
    )

    download = commands.add_parser("download", help="download and unpack a published archive")
    download.add_argument("name", choices=sorted(ARCHIVES))
    download.add_argument("--root", required=True, help="folder that receives the archive folder")
    download.add_argument("--url", help="a mirror to use instead of the official URL")
    download.add_argument("--sha256", type=_sha256, help="expected SHA-256 of the zip file")
    download.add_argument(
        "--timeout", type=seconds_option(MAX_TIMEOUT), default=60.0,
        help="give up when connecting or a read waits this long, or when less than 1 KiB "
        "arrives in this many seconds (default 60)",
    )  # fmt: skip
    download.add_argument(
        "--deadline", type=seconds_option(MAX_DEADLINE), default=7200.0,
        help="give up when the whole download takes longer, seconds (default 7200)",
    )  # fmt: skip
    return parser


def _sha256(text: str) -> str:
    """argparse ``type`` of ``--sha256``: checked before anything is downloaded."""
    try:
        return check_sha256(text)
    except DataError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("sha256 ")) from None


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that clean-up (``finally``) runs as for Ctrl-C."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`_Terminated` instead of killing the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _synth(args: argparse.Namespace) -> int:
    sets = {
        "modelnet40": (ModelNet40, lambda: write_synthetic_modelnet40(
            args.root, args.seed, args.train_per_class, args.test_per_class)),
        "shapenetpart": (ShapeNetPart, lambda: write_synthetic_shapenetpart(
            args.root, args.seed, args.train_per_category, args.val_per_category, args.test_per_category)),
    }  # fmt: skip
    chosen = [name for name in sets if args.only in (None, name)]
    for name in chosen:  # refuse before writing anything
        data_set = sets[name][0]
        if data_set.LAYOUT.find(args.root) is not None:
            raise DataError(f"{args.root} already holds a {data_set.__name__} layout; remove it to regenerate")
    for name in chosen:
        print(f"wrote {sets[name][1]()}")
    return 0


def _synth_scenes(args: argparse.Namespace) -> int:
    from pointea.data.synthetic_scenes import write_synthetic_rooms, write_synthetic_tiles

    if not (args.rooms or args.tiles):
        raise DataError("synth-scenes: give --rooms DIR and/or --tiles DIR")
    if args.rooms:
        print(f"wrote {write_synthetic_rooms(args.rooms, args.seed, args.rooms_per_area)}")
    if args.tiles:
        print(f"wrote {write_synthetic_tiles(args.tiles, args.seed, args.num_tiles)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pointea-data``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        with _sigterm_raises():
            if args.command == "synth":
                return _synth(args)
            if args.command == "synth-scenes":
                return _synth_scenes(args)
            if args.command == "verify":
                report = verify_folder(args.folder, args.layout, args.missing)
                print(report.text())
                return 0 if report.ok else 1
            target = download_archive(
                args.name, args.root, args.url, args.sha256, args.timeout, args.deadline
            )
            print(f"unpacked {args.name} into {target}")
            return 0
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Terminated) as exc:
        name, code = ("SIGTERM", 143) if isinstance(exc, _Terminated) else ("SIGINT", 130)
        removed = "; the partial download was removed" if args.command == "download" else ""
        print(f"error: {args.command} interrupted by {name}{removed}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
