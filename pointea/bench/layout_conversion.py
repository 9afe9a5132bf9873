"""Conversion rate of ``modelnet40_normal_resampled`` into the HDF5 cache, and reusing the cache.

Times the whole one-time conversion (listing, reading every text file with
:func:`pointea.io.read_points`, keeping the first 2048 points and normals, writing the HDF5
files and the manifest) on a release built from the real sample: each real file is listed
``--repeat`` times under new names (symbolic links), so there are enough files for the worker
processes to reach their steady rate. Then times the start of a later run (the manifest check
that reuses the cache) and reading the cached training split with the HDF5 loader.

    python -m pointea.bench.layout_conversion --root ../shared/data/modelnet40_normal_resampled_sample

Not a timed test: run it and report the figures with the machine they were taken on. The source
files are read from the page cache after the first pass; a cold disk adds its own read time.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from pointea.data.modelnet40 import NormalResampled, modelnet40_archive
from pointea.data.modelnet40 import ModelNet40
from pointea.errors import DataError

__all__ = ["build_repeated_release", "measure_conversion"]

#: Files in the full release (9,843 train + 2,468 test), for the extrapolated time.
FULL_RELEASE_FILES = 12311


def build_repeated_release(sample: Path, dest: Path, repeat: int) -> tuple[Path, int, int]:
    """A release at ``dest`` listing every file of ``sample`` ``repeat`` times (links).

    Returns:
        the data root, the number of listed files and their total size in bytes.
    """
    release = NormalResampled.find(sample)
    if release is None:
        raise DataError(f"{sample}: no modelnet40_normal_resampled release here")
    folder = dest / NormalResampled.FOLDER
    folder.mkdir(parents=True)
    shutil.copy(release.folder / NormalResampled.NAMES_FILE, folder)
    files, size = 0, 0
    for split in NormalResampled.SPLITS:
        names = []
        for shape in release.present(split):
            class_name, number = shape.name.rsplit("_", 1)
            (folder / class_name).mkdir(exist_ok=True)
            for copy in range(repeat):
                name = f"{class_name}_{int(number) + 10000 * (copy + 1)}"
                (folder / class_name / f"{name}.txt").symlink_to(shape.path.resolve())
                names.append(name)
                files, size = files + 1, size + shape.path.stat().st_size
        (folder / f"modelnet40_{split}.txt").write_text("".join(f"{n}\n" for n in names))
    return dest, files, size


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (the reader processes)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_conversion(root: Path, files: int, size: int, workers: int) -> dict[str, float | int]:
    """Convert ``root``'s release once (cache removed first) and time it; then reuse and load."""
    shutil.rmtree(root / "pointea_cache", ignore_errors=True)
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    cache = NormalResampled.find(root).cache(num_points=2048, workers=workers)
    convert = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_start
    start = time.perf_counter()
    again = modelnet40_archive(root, "normal_resampled", num_points=1024)
    reuse = time.perf_counter() - start
    assert again == cache, "the cache was not reused"
    start = time.perf_counter()
    train = ModelNet40(cache, "train")
    load = time.perf_counter() - start
    return {
        "workers": workers,
        "files": files,
        "seconds": convert,
        "files_per_s": files / convert,
        "mb_per_s": size / 1e6 / convert,
        "full_release_minutes": FULL_RELEASE_FILES / (files / convert) / 60,
        "cpu_ms_per_file": 1000 * cpu / files,
        "full_release_cpu_minutes": FULL_RELEASE_FILES * cpu / files / 60,
        "reuse_check_s": reuse,
        "load_train_s": load,
        "train_shapes": len(train),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--root", required=True, help="a folder holding modelnet40_normal_resampled/"
    )
    parser.add_argument("--repeat", type=int, default=20, help="times each real file is listed")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="reader processes")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pointea-layout-bench-") as scratch:
        root, files, size = build_repeated_release(Path(args.root), Path(scratch), args.repeat)
        print(
            f"release: {files} files ({size / 1e6:.0f} MB of text), {os.cpu_count()} CPUs visible"
        )
        print(f"load average before: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print("| workers | files | wall s | files/s | MB/s | full release, wall | CPU ms/file | full release, CPU | "
              "reuse check | load train split |")  # fmt: skip
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for workers in args.workers:
            r = measure_conversion(root, files, size, workers)
            print(
                f"| {r['workers']} | {r['files']} | {r['seconds']:.1f} | {r['files_per_s']:.0f} | "
                f"{r['mb_per_s']:.0f} | {r['full_release_minutes']:.1f} min | {r['cpu_ms_per_file']:.1f} | "
                f"{r['full_release_cpu_minutes']:.1f} CPU-min | {r['reuse_check_s']:.2f} s | "
                f"{r['load_train_s']:.2f} s ({r['train_shapes']} shapes) |"
            )


if __name__ == "__main__":
    main()
