"""LAZ streaming rate: pointea's tile reading against laspy's own chunked read of the same file.

Writes a ``--points``-point LAZ tile (10 million by default; LAS 1.4 point format 6, terrain with
ASPRS codes, intensity, returns and GPS time) in a temporary folder, chunk by chunk, then reads it
back, alternating, ``--repeat`` times each:

- **laspy**: ``laspy.open(...).chunk_iterator(chunk)``, materialising x, y, z (scaled, float64),
  classification and intensity of every chunk: the floor any reader built on laspy pays;
- **pointea tile**: :func:`pointea.data.lidar_tiles.convert_tile`, what the lidar data module does once
  per tile: the same chunked read, written into memory-mapped arrays plus the cell index (a
  two-pass counting sort over the points);
- **pointea read_points**: :func:`pointea.io.read_points`, the reader behind ``pointea-predict``.

Reports the best time of each (the machine is shared) as points per second and the ratio to
laspy's. Run as ``pointea-bench las-reading`` (or ``python -m pointea.bench.las_reading``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["write_laz_tile", "measure_las_reading", "main"]


def write_laz_tile(path: Path, points: int, seed: int = 0, chunk: int = 1_000_000) -> Path:
    """A ``points``-point LAZ tile of rolling terrain (ground 2, vegetation 3-5, buildings 6),
    written ``chunk`` points at a time (bounded memory)."""
    import laspy

    rng = np.random.default_rng(seed)
    side = float(np.sqrt(points / 10.0))  # 10 points per square metre
    header = laspy.LasHeader(point_format=6, version="1.4")
    header.scales = np.array([0.01, 0.01, 0.01])
    header.offsets = np.array([650_000.0, 6_860_000.0, 0.0])
    with laspy.open(path, mode="w", header=header, do_compress=True) as writer:
        for start in range(0, points, chunk):
            count = min(chunk, points - start)
            record = laspy.ScaleAwarePointRecord.zeros(count, header=header)
            x, y = rng.uniform(0, side, count), rng.uniform(0, side, count)
            record.x, record.y = x + header.offsets[0], y + header.offsets[1]
            record.z = 3 * np.sin(x / 40.0) * np.cos(y / 55.0) + rng.normal(0, 0.05, count)
            record.classification = rng.choice(
                np.array([2, 3, 4, 5, 6], np.uint8), count, p=[0.5, 0.1, 0.1, 0.2, 0.1]
            )
            record.intensity = rng.integers(0, 65535, count, dtype=np.uint16)
            record.return_number = np.ones(count, np.uint8)
            record.number_of_returns = np.ones(count, np.uint8)
            record.gps_time = 1e8 + (start + np.arange(count)) * 1e-5
            writer.write_points(record)
    return path


def _laspy_chunks(path: Path, chunk: int) -> int:
    import laspy

    total = 0
    with laspy.open(path) as reader:
        for points in reader.chunk_iterator(chunk):
            arrays = (np.asarray(points.x), np.asarray(points.y), np.asarray(points.z),
                      np.asarray(points.classification), np.asarray(points.intensity))  # fmt: skip
            total += arrays[0].shape[0]
    return total


def _pointea_tile(path: Path, chunk: int) -> int:
    from pointea.data.lidar_tiles import convert_tile

    with tempfile.TemporaryDirectory(dir=path.parent) as out:
        return int(convert_tile(path, Path(out), chunk_points=chunk)["points"])


def _pointea_read_points(path: Path, chunk: int) -> int:
    from pointea.io import read_points

    return len(read_points(path, max_points=10**9))


def measure_las_reading(
    points: int = 10_000_000, repeat: int = 3, chunk: int = 1_000_000, folder: str | None = None
) -> dict:
    """Best seconds and points/s of each reader on one generated LAZ tile, and ratios to laspy's."""
    readers: dict[str, Callable[[Path, int], int]] = {
        "laspy chunk_iterator": _laspy_chunks,
        "pointea tile (convert_tile)": _pointea_tile,
        "pointea read_points": _pointea_read_points,
    }
    with tempfile.TemporaryDirectory(dir=folder) as work:
        path = Path(work) / "tile.laz"
        start = time.perf_counter()
        write_laz_tile(path, points)
        written = time.perf_counter() - start
        best = {name: float("inf") for name in readers}
        for _ in range(repeat):
            for name, reader in readers.items():  # alternating, so load changes hit all alike
                start = time.perf_counter()
                count = reader(path, chunk)
                best[name] = min(best[name], time.perf_counter() - start)
                if count != points:
                    raise RuntimeError(f"{name} read {count} points of {points}")
        size = path.stat().st_size
    base = best["laspy chunk_iterator"]
    return {
        "points": points, "laz_megabytes": round(size / 1e6, 1), "chunk": chunk, "repeat": repeat,
        "write_seconds": round(written, 2),
        "readers": {
            name: {"seconds": round(s, 3), "points_per_s": round(points / s), "ratio_to_laspy": round(s / base, 3)}
            for name, s in best.items()
        },
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "load_average": round(os.getloadavg()[0], 1),
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pointea-bench las-reading", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--points", type=int, default=10_000_000, help="points of the tile (default: 10,000,000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="reads per reader, best kept (default: 3)"
    )
    parser.add_argument(
        "--chunk", type=int, default=1_000_000, help="points per chunk (default: 1,000,000)"
    )
    parser.add_argument(
        "--tmp", default=None, help="folder for the temporary tile (default: the system's)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    result = measure_las_reading(args.points, args.repeat, args.chunk, args.tmp)
    print(f"{result['points']:,} points, {result['laz_megabytes']} MB LAZ, chunks of {result['chunk']:,}; "
          f"{result['machine']}, load {result['load_average']}")  # fmt: skip
    print("| reader | best s | points/s | time / laspy's |")
    print("|---|---:|---:|---:|")
    for name, row in result["readers"].items():
        print(
            f"| {name} | {row['seconds']:.2f} | {row['points_per_s']:,} | {row['ratio_to_laspy']:.2f} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
