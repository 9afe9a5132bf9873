"""E57 scans through read_points: poses, invalid points, colours, chunking, broken files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pye57  # pointea's e57 extra, in dev: a missing reader fails here, loudly
import pytest

from pointea.errors import DataError
from pointea.io import SUPPORTED_EXTENSIONS, read_points
from pointea.io.e57 import read_e57_rows
from pointea.io.selection import KeepAll


def _scan(rng: np.random.Generator, count: int, invalid_every: int = 0) -> dict[str, np.ndarray]:
    xyz = rng.uniform(-5, 5, (count, 3))
    data = {"cartesianX": xyz[:, 0], "cartesianY": xyz[:, 1], "cartesianZ": xyz[:, 2],
            "colorRed": rng.integers(0, 256, count).astype(np.uint8),
            "colorGreen": rng.integers(0, 256, count).astype(np.uint8),
            "colorBlue": rng.integers(0, 256, count).astype(np.uint8)}  # fmt: skip
    if invalid_every:
        data["cartesianInvalidState"] = (np.arange(count) % invalid_every == 0).astype(np.int8)
    return data


@pytest.fixture
def two_scans(tmp_path: Path) -> tuple[Path, list[dict[str, np.ndarray]], np.ndarray]:
    rng = np.random.default_rng(0)
    scans = [_scan(rng, 5_000, invalid_every=7), _scan(rng, 3_000)]
    angle = np.pi / 2  # the second scan: 90 degrees about z, then moved to a georeferenced spot
    rotation = np.array([np.cos(angle / 2), 0, 0, np.sin(angle / 2)])  # quaternion w x y z
    translation = np.array([500_000.0, 5_400_000.0, 120.0])
    path = tmp_path / "station.e57"
    with pye57.E57(str(path), mode="w") as writer:
        writer.write_scan_raw(scans[0], name="first")
        writer.write_scan_raw(scans[1], name="second", rotation=rotation, translation=translation)
    return path, scans, translation


def _expected(scans, translation) -> tuple[np.ndarray, np.ndarray]:
    first = np.stack([scans[0][k] for k in ("cartesianX", "cartesianY", "cartesianZ")], 1)
    first = first[scans[0]["cartesianInvalidState"] == 0]
    second = np.stack([scans[1][k] for k in ("cartesianX", "cartesianY", "cartesianZ")], 1)
    second = np.stack([-second[:, 1], second[:, 0], second[:, 2]], 1) + translation  # R_z(90) p + t
    colours = [np.stack([s[c] for c in ("colorRed", "colorGreen", "colorBlue")], 1) for s in scans]
    colours[0] = colours[0][scans[0]["cartesianInvalidState"] == 0]
    return np.concatenate([first, second]), np.concatenate(colours) / 255.0


def test_every_valid_point_of_every_scan_posed_into_one_frame(two_scans) -> None:
    path, scans, translation = two_scans
    assert ".e57" in SUPPORTED_EXTENSIONS
    cloud = read_points(path)
    points, colours = _expected(scans, translation)
    assert len(cloud) == 5_000 - 715 + 3_000  # every 7th point of the first scan has no return
    np.testing.assert_allclose(cloud.points + cloud.origin, points, atol=1e-3)
    np.testing.assert_allclose(cloud.colours, colours, atol=1e-6)
    assert np.abs(cloud.points).max() < 6e6 and cloud.origin.dtype == np.float64


def test_chunks_read_the_same_points(two_scans) -> None:
    path, _, _ = two_scans
    whole, names, origin = read_e57_rows(path, KeepAll(path, 10**7))
    chunked, _, origin_chunked = read_e57_rows(path, KeepAll(path, 10**7), chunk_points=256)
    assert names == ("x", "y", "z", "r", "g", "b")
    np.testing.assert_array_equal(whole.values, chunked.values)
    np.testing.assert_array_equal(origin, origin_chunked)


def test_broken_e57_files_are_one_line(tmp_path: Path, two_scans) -> None:
    path, _, _ = two_scans
    truncated = tmp_path / "truncated.e57"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"truncated.e57: not a readable .e57 file"):
        read_points(truncated)
    text = tmp_path / "text.e57"
    text.write_text("not an e57 file\n" * 100)
    with pytest.raises(DataError, match=r"text.e57: not a readable .e57 file"):
        read_points(text)
