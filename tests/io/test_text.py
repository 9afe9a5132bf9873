"""Text point tables: column layouts, headers, subsets, streaming and speed."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from pointea.io import ResampledWarning, read_points


def _table(rng: np.random.Generator, rows: int) -> np.ndarray:
    """x y z nx ny nz label rows.  Shapes: returns (rows, 7) float64"""
    points = rng.uniform(-1, 1, (rows, 3))
    normals = rng.normal(size=(rows, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    labels = rng.integers(0, 5, (rows, 1))
    return np.hstack([points, normals, labels])


def _write(path: Path, table: np.ndarray, sep: str = " ", header: str | None = None) -> Path:
    lines = [sep.join(f"{v:.6g}" for v in row) for row in table]
    path.write_text("\n".join(([header] if header else []) + lines) + "\n")
    return path


@pytest.mark.parametrize(
    ("name", "take", "columns"),
    [
        ("a.xyz", [0, 1, 2], ("x", "y", "z")),
        ("a.txt", [0, 1, 2, 6], ("x", "y", "z", "label")),
        ("a.xyzn", [0, 1, 2, 3, 4, 5], ("x", "y", "z", "nx", "ny", "nz")),
        ("a.csv", [0, 1, 2, 3, 4, 5, 6], ("x", "y", "z", "nx", "ny", "nz", "label")),
        ("a.pts", [0, 1, 2, 3, 4], ("x", "y", "z", "-", "-")),  # 5 columns: extra ones ignored
    ],
)
def test_columns_follow_the_column_count(
    tmp_path: Path, name: str, take: list, columns: tuple
) -> None:
    table = _table(np.random.default_rng(0), 50)[:, take]  # (50, len(take))
    cloud = read_points(_write(tmp_path / name, table, sep="," if name.endswith(".csv") else " "))
    assert cloud.columns == columns
    assert np.allclose(cloud.points, table[:, :3], atol=1e-5)
    if "nx" in columns:
        assert np.allclose(cloud.normals, table[:, 3:6], atol=1e-5)
    if "label" in columns:
        assert cloud.labels.dtype == np.int64 and np.array_equal(cloud.labels, table[:, -1])


def test_header_names_the_columns(tmp_path: Path) -> None:
    table = _table(np.random.default_rng(1), 20)
    # columns in an unusual order, named by a header as CloudCompare/pandas write them
    reordered = table[:, [6, 0, 1, 2]]
    cloud = read_points(_write(tmp_path / "h.csv", reordered, ",", header="class,X,Y,Z"))
    assert cloud.columns == ("label", "x", "y", "z")
    assert np.allclose(cloud.points, table[:, :3], atol=1e-5)
    assert np.array_equal(cloud.labels, table[:, 6])


def test_xyzrgb_colours_and_leica_pts(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    xyz = rng.uniform(-1, 1, (10, 3))
    rgb = rng.integers(0, 256, (10, 3))
    cloud = read_points(_write(tmp_path / "c.xyzrgb", np.hstack([xyz, rgb])))
    assert cloud.columns == ("x", "y", "z", "r", "g", "b") and cloud.normals is None
    assert np.allclose(cloud.colours * 255, rgb, atol=1e-3)
    # Leica .pts: a point-count line, then x y z intensity r g b
    intensity = rng.integers(-2048, 2047, (10, 1))
    path = _write(tmp_path / "scan.pts", np.hstack([xyz, intensity, rgb]), header="10")
    cloud = read_points(path)
    assert cloud.columns == ("x", "y", "z", "-", "r", "g", "b")
    assert np.allclose(cloud.points, xyz, atol=1e-5) and np.allclose(
        cloud.colours * 255, rgb, atol=1e-3
    )


def test_columns_argument_overrides(tmp_path: Path) -> None:
    table = _table(np.random.default_rng(3), 10)[:, :4]  # x y z nx: 4th column is not a label
    path = _write(tmp_path / "o.txt", table)
    cloud = read_points(path, columns=("x", "y", "z", "-"))
    assert cloud.labels is None and cloud.columns == ("x", "y", "z", "-")


def test_fewer_points_than_asked_are_drawn_again_and_said_once(tmp_path: Path) -> None:
    table = _table(np.random.default_rng(4), 30)
    path = _write(tmp_path / "few.xyz", table[:, :3])
    with pytest.warns(
        ResampledWarning, match=r"few\.xyz: 30 points, fewer than the 100 asked for"
    ) as caught:
        cloud = read_points(path, 100, seed=0)
    assert len(caught) == 1
    assert cloud.resampled and cloud.points.shape == (100, 3) and cloud.num_source_points == 30
    # every file point is kept once, the rest are repeats of file points
    assert len({tuple(p) for p in cloud.points}) == 30
    assert np.allclose(cloud.points[:30], table[:, :3], atol=1e-5)


def test_streaming_keeps_memory_bounded(tmp_path: Path) -> None:
    """A 200,000-line file read in 64 KiB chunks: the same subset as one chunk, while the reader's
    peak allocation stays far below the file (the path a 100-million-point scan takes)."""
    rng = np.random.default_rng(5)
    rows = 200_000
    block = rng.uniform(-1, 1, (rows, 3)).astype(np.float32)
    path = tmp_path / "big.xyz"
    path.write_bytes(b"".join(b"%.4f %.4f %.4f\n" % tuple(r) for r in block[:20_000]) * 10)
    size = path.stat().st_size
    whole = read_points(path, 1000, seed=7)
    tracemalloc.start()
    streamed = read_points(path, 1000, seed=7, chunk_bytes=64 << 10)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert np.array_equal(whole.points, streamed.points) and streamed.num_source_points == rows
    assert peak < size / 5, f"peak {peak} bytes for a {size}-byte file"
    # without num_points, max_points stops a file too big to hold, before it is held
    from pointea.errors import DataError

    with pytest.raises(DataError, match=r"big\.xyz: more than 50,000 points; pass num_points"):
        read_points(path, max_points=50_000, chunk_bytes=64 << 10)


