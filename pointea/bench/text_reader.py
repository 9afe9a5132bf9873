"""Text reader throughput: files/s and MB/s of :func:`pointea.io.read_points` on point text files.

Made for PointNet++'s ``modelnet40_normal_resampled`` (10,000 lines ``x,y,z,nx,ny,nz`` per file,
12,311 files): reads every ``.txt`` file under ``--root`` ``--repeat`` times, in one process, and
in ``--processes`` worker processes, next to two baselines on the same files (NumPy's
``np.loadtxt`` and a plain Python ``float()`` loop), and projects the time to read all 12,311
files. Not a timed test: run it and report the figures with the machine they were taken on.

    python -m pointea.bench.text_reader --root ../shared/data/modelnet40_normal_resampled_sample
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable, Sequence
from multiprocessing import get_context
from pathlib import Path

import numpy as np

__all__ = ["measure_text_reader", "main"]

FULL_RELEASE_FILES = 12_311


def _read_points(path: Path) -> int:
    from pointea.io import read_points

    return len(read_points(path))


def _loadtxt(path: Path) -> int:
    return np.loadtxt(path, delimiter=",", dtype=np.float32).shape[0]


def _python_floats(path: Path) -> int:
    rows = [[float(v) for v in line.split(",")] for line in path.read_text().splitlines() if line]
    return np.asarray(rows, dtype=np.float32).shape[0]


def _time(
    reader: Callable[[Path], int], files: Sequence[Path], processes: int
) -> tuple[float, float | None]:
    """Wall seconds, and this process's CPU seconds (in-process runs only)."""
    start, cpu = time.perf_counter(), time.process_time()
    if processes <= 1:
        for path in files:
            reader(path)
        return time.perf_counter() - start, time.process_time() - cpu
    with get_context("fork").Pool(processes) as pool:
        pool.map(reader, files, chunksize=max(1, len(files) // (4 * processes)))
    return time.perf_counter() - start, None


def measure_mesh_sampling(num_points: int = 2048, repeat: int = 10) -> dict[str, float]:
    """CPU ms to read an ``.off`` box and sample ``num_points`` (4x oversampled, FPS), with
    and the FPS alone (pointea.layers.sampling.fps, which mesh sampling calls) on as many drawn points."""
    import tempfile

    import torch

    from pointea.io import read_points
    from pointea.layers.sampling import fps

    box = (
        "OFF\n8 6 0\n0 0 0\n2 0 0\n2 1 0\n0 1 0\n0 0 .5\n2 0 .5\n2 1 .5\n0 1 .5\n"
        "4 0 1 2 3\n4 4 5 6 7\n4 0 1 5 4\n4 1 2 6 5\n4 2 3 7 6\n4 3 0 4 7\n"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "box.off"
        path.write_text(box)
        read_points(path, num_points)
        start = time.process_time()
        for seed in range(repeat):
            read_points(path, num_points, seed=seed)
        mesh_ms = 1000 * (time.process_time() - start) / repeat
    drawn = torch.rand(4 * num_points, 3)
    fps(drawn, num_points)
    start = time.process_time()
    for _ in range(repeat):
        fps(drawn, num_points)
    layers_ms = 1000 * (time.process_time() - start) / repeat
    return {"read_points_off_ms": round(mesh_ms, 1), "layers_fps_ms": round(layers_ms, 1)}


def measure_text_reader(root: str | Path, repeat: int = 5, processes: int = 2) -> dict[str, object]:
    """Seconds, files/s and MB/s of each reader on every ``.txt`` file under ``root``."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    files = sorted(p for p in Path(root).rglob("*.txt") if not p.name.startswith("modelnet40_"))
    if not files:
        raise SystemExit(f"no shape .txt files under {root}")
    for path in files:  # warm the page cache and the imports
        _read_points(path)
    work = files * repeat
    megabytes = sum(p.stat().st_size for p in work) / 1e6
    results: dict[str, object] = {
        "files": len(files),
        "reads": len(work),
        "megabytes": round(megabytes, 1),
    }
    cases = [
        ("read_points", _read_points, 1),
        (f"read_points x{processes} processes", _read_points, processes),
        ("np.loadtxt", _loadtxt, 1),
        ("python float()", _python_floats, 1),
    ]
    for name, reader, count in cases:
        subset = work if name != "python float()" else work[: len(files)]  # the slow one: once
        seconds, cpu = _time(reader, subset, count)
        size = megabytes * len(subset) / len(work)
        results[name] = {
            "seconds": round(seconds, 3),
            "files_per_s": round(len(subset) / seconds, 1),
            "mb_per_s": round(size / seconds, 1),
            "cpu_ms_per_file": None if cpu is None else round(1000 * cpu / len(subset), 2),
            "full_release_s": round(FULL_RELEASE_FILES * seconds / len(subset), 1),
        }
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pointea.bench.text_reader", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--root",
        default="../shared/data/modelnet40_normal_resampled_sample",
        help="folder of .txt shape files",
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="reads of every file per case (default: 5)"
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="worker processes of the parallel case (default: 2)",
    )
    args = parser.parse_args(argv)
    results = measure_text_reader(args.root, args.repeat, args.processes)
    print(
        f"{results['files']} files x {args.repeat} = {results['reads']} reads, {results['megabytes']} MB; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    print(f"| reader | files/s | MB/s | wall ms/file | CPU ms/file | 12,311 files |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in results.items():
        if isinstance(row, dict):
            cpu = "-" if row["cpu_ms_per_file"] is None else f"{row['cpu_ms_per_file']:.2f}"
            print(
                f"| {name} | {row['files_per_s']:.1f} | {row['mb_per_s']:.1f} | "
                f"{1000 / row['files_per_s']:.2f} | {cpu} | {row['full_release_s']:.0f} s |"
            )
    mesh = measure_mesh_sampling()
    print(
        f"\n.off mesh to 2048 points (8192 drawn by area, FPS): {mesh['read_points_off_ms']} ms CPU per file "
        f"(12,311 meshes: {FULL_RELEASE_FILES * mesh['read_points_off_ms'] / 1000:.0f} CPU s); the same FPS "
        f"through pointea.layers.sampling.fps: {mesh['layers_fps_ms']} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
