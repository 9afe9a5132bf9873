"""The ``pointea-data`` command: write the synthetic sets, verify a folder, download an archive.

    pointea-data synth --root data/synthetic [--seed 0] [--train-per-class 64] ...
    pointea-data verify data/synthetic
    pointea-data verify data/modelnet40_normal_resampled [--layout NAME] [--missing skip]
    pointea-data download modelnet40 --root data [--url URL] [--sha256 HEX]

Exit status: 0 on success, 1 on a data problem (one ``error:`` line naming the file), 2 on a usage
error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pointea.data.download import ARCHIVES, download_archive
from pointea.data.errors import DataError
from pointea.data.modelnet40 import ModelNet40
from pointea.data.shapenetpart import ShapeNetPart
from pointea.data.synthetic import write_synthetic_modelnet40, write_synthetic_shapenetpart
from pointea.data.verify import verify_folder

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pointea-data", description="Synthetic data, verification and downloads for pointea."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="write the synthetic sets in the two archive layouts")
    synth.add_argument("--root", required=True, help="folder that receives the archive folders")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--only", choices=("modelnet40", "shapenetpart"), help="write one set only")
    synth.add_argument("--train-per-class", type=int, default=64, help="classification, per class")
    synth.add_argument("--test-per-class", type=int, default=16, help="classification, per class")
    synth.add_argument("--train-per-category", type=int, default=100, help="parts, per category")
    synth.add_argument("--val-per-category", type=int, default=20, help="parts, per category")
    synth.add_argument("--test-per-category", type=int, default=20, help="parts, per category")

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
    download.add_argument("--sha256", help="expected SHA-256 of the zip file")
    download.add_argument("--timeout", type=float, default=60.0, help="connection timeout, seconds")
    return parser


def _synth(args: argparse.Namespace) -> int:
    written = []
    if args.only in (None, "modelnet40"):
        if ModelNet40.LAYOUT.find(args.root) is not None:
            raise DataError(f"{args.root} already holds a ModelNet40 layout; remove it to regenerate")
        written.append(
            write_synthetic_modelnet40(
                args.root, args.seed, args.train_per_class, args.test_per_class
            )
        )
    if args.only in (None, "shapenetpart"):
        if ShapeNetPart.LAYOUT.find(args.root) is not None:
            raise DataError(
                f"{args.root} already holds a ShapeNetPart layout; remove it to regenerate"
            )
        written.append(
            write_synthetic_shapenetpart(
                args.root, args.seed, args.train_per_category, args.val_per_category,
                args.test_per_category,
            )
        )  # fmt: skip
    for folder in written:
        print(f"wrote {folder}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pointea-data``; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        if args.command == "synth":
            return _synth(args)
        if args.command == "verify":
            report = verify_folder(args.folder, args.layout, args.missing)
            print(report.text())
            return 0 if report.ok else 1
        target = download_archive(args.name, args.root, args.url, args.sha256, args.timeout)
        print(f"unpacked {args.name} into {target}")
        return 0
    except (DataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
