"""PLY, PCD, NumPy and LAS/LAZ point files, and write_points round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pointea.errors import DataError
from pointea.io import PointCloud, read_points, write_points
from pointea.io.palette import label_colours


def _cloud(n: int = 200, seed: int = 0) -> PointCloud:
    rng = np.random.default_rng(seed)
    normals = rng.normal(size=(n, 3))
    return PointCloud(
        points=rng.uniform(-1, 1, (n, 3)).astype(np.float32),
        normals=(normals / np.linalg.norm(normals, axis=1, keepdims=True)).astype(np.float32),
        labels=rng.integers(0, 13, n),
    )


@pytest.mark.parametrize("order", ["<", ">"])
def test_binary_ply_point_cloud_keeps_labels(tmp_path: Path, order: str) -> None:
    """A PLY as a scanner or CloudCompare writes it: float xyz, uchar colour, a label property,
    an unused property, either byte order."""
    n = 100
    rng = np.random.default_rng(1)
    dtype = np.dtype(
        [
            ("x", order + "f4"),
            ("y", order + "f4"),
            ("z", order + "f4"),
            ("intensity", order + "u2"),
            ("red", "u1"),
            ("green", "u1"),
            ("blue", "u1"),
            ("scalar_Label", order + "i4"),
        ]
    )
    table = np.zeros(n, dtype)
    xyz = rng.uniform(-5, 5, (n, 3)).astype(np.float32)
    table["x"], table["y"], table["z"] = xyz.T
    table["red"], table["green"], table["blue"] = rng.integers(0, 256, (3, n))
    table["scalar_Label"] = rng.integers(0, 8, n)
    fmt = "binary_little_endian" if order == "<" else "binary_big_endian"
    header = (
        f"ply\nformat {fmt} 1.0\ncomment scanner\nelement vertex {n}\nproperty float x\nproperty float y\n"
        "property float z\nproperty ushort intensity\nproperty uchar red\nproperty uchar green\n"
        "property uchar blue\nproperty int scalar_Label\nend_header\n"
    )
    path = tmp_path / "scan.ply"
    path.write_bytes(header.encode() + table.tobytes())
    cloud = read_points(path)
    assert cloud.columns == ("x", "y", "z", "r", "g", "b", "label")
    assert np.array_equal(cloud.points, xyz)
    assert np.array_equal(cloud.labels, table["scalar_Label"])
    assert np.allclose(
        cloud.colours * 255, np.stack([table["red"], table["green"], table["blue"]], 1), atol=1e-3
    )
    sub = read_points(path, 10, seed=0, chunk_bytes=64)  # memory-mapped, streamed in chunks
    assert np.array_equal(sub.points, read_points(path, 10, seed=0).points)


def test_ascii_ply_and_open3d_agree(tmp_path: Path) -> None:
    import open3d as o3d

    cloud = _cloud()
    legacy = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.points.astype(np.float64)))
    legacy.normals = o3d.utility.Vector3dVector(cloud.normals.astype(np.float64))
    path = tmp_path / "o3d.ply"
    assert o3d.io.write_point_cloud(str(path), legacy, write_ascii=True)
    read = read_points(path)
    assert read.columns[:6] == ("x", "y", "z", "nx", "ny", "nz")
    assert np.allclose(read.points, cloud.points, atol=1e-5) and np.allclose(
        read.normals, cloud.normals, atol=1e-5
    )


def test_pcd_in_the_published_format(tmp_path: Path) -> None:
    cloud = _cloud(50)
    rows = "\n".join(" ".join(f"{v:.7g}" for v in row) for row in cloud.points)
    path = tmp_path / "cloud.pcd"
    path.write_text(
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\nTYPE F F F\n"
        f"COUNT 1 1 1\nWIDTH 50\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 50\nDATA ascii\n{rows}\n"
    )
    read = read_points(path)
    assert read.columns == ("x", "y", "z") and np.allclose(read.points, cloud.points, atol=1e-5)
    import open3d as o3d  # and a binary PCD with normals and colours, written by open3d

    legacy = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(cloud.points.astype(np.float64)))
    legacy.normals = o3d.utility.Vector3dVector(cloud.normals.astype(np.float64))
    legacy.colors = o3d.utility.Vector3dVector(np.full((50, 3), 0.25))
    assert o3d.io.write_point_cloud(str(tmp_path / "b.pcd"), legacy)
    read = read_points(tmp_path / "b.pcd", 20, seed=0)
    assert read.columns == ("x", "y", "z", "nx", "ny", "nz", "r", "g", "b") and len(read) == 20
    assert np.allclose(read.colours, 0.25, atol=1 / 255)  # PCD stores 8-bit colour


def test_npy_and_npz(tmp_path: Path) -> None:
    cloud = _cloud()
    table = np.hstack([cloud.points, cloud.normals, cloud.labels[:, None]]).astype(
        np.float64
    )  # (N, 7)
    np.save(tmp_path / "t.npy", table)
    read = read_points(tmp_path / "t.npy")
    assert read.columns == ("x", "y", "z", "nx", "ny", "nz", "label")
    assert np.array_equal(read.points, cloud.points) and np.array_equal(read.labels, cloud.labels)
    # streamed from the memory map in tiny chunks: the same subset as in one go
    assert np.array_equal(
        read_points(tmp_path / "t.npy", 30, chunk_bytes=100).points,
        read_points(tmp_path / "t.npy", 30).points,
    )
    np.savez(tmp_path / "named.npz", xyz=cloud.points, label=cloud.labels)
    read = read_points(tmp_path / "named.npz")
    assert read.columns == ("x", "y", "z", "label") and np.array_equal(read.labels, cloud.labels)
    np.savez(tmp_path / "bad.npz", points=cloud.points, labels=cloud.labels[:-1])
    with pytest.raises(
        DataError, match=r"bad\.npz: 'labels' has shape \(199,\), expected \(200,\)"
    ):
        read_points(tmp_path / "bad.npz")


@pytest.mark.parametrize("suffix", [".las", ".laz"])
def test_las_and_laz_keep_georeferenced_precision(tmp_path: Path, suffix: str) -> None:
    import laspy  # the `las` extra (pointea[dev] installs it)
    header = laspy.LasHeader(point_format=3, version="1.2")
    header.offsets = np.array([512_000.0, 5_400_000.0, 300.0])  # UTM metres
    header.scales = np.array([0.001, 0.001, 0.001])
    las = laspy.LasData(header)
    rng = np.random.default_rng(2)
    n = 3000
    xyz = header.offsets + np.round(rng.uniform(0, 100, (n, 3)), 3)
    las.x, las.y, las.z = xyz.T
    las.classification = rng.integers(0, 10, n).astype(np.uint8)
    las.red, las.green, las.blue = rng.integers(0, 65536, (3, n)).astype(np.uint16)
    las.write(tmp_path / f"tile{suffix}")
    cloud = read_points(tmp_path / f"tile{suffix}")
    assert cloud.columns == ("x", "y", "z", "r", "g", "b", "label")
    assert np.array_equal(cloud.origin, header.offsets)
    # float32 alone would lose ~0.5 m at 5.4e6; relative to the origin the millimetres survive
    assert np.abs(cloud.points + cloud.origin - xyz).max() < 1e-5 * 100
    assert np.array_equal(cloud.labels, las.classification)
    assert np.allclose(
        cloud.colours, np.stack([las.red, las.green, las.blue], 1) / 65535, atol=1e-6
    )
    sub = read_points(tmp_path / f"tile{suffix}", 500, seed=0)
    assert len(sub) == 500 and set(map(tuple, sub.points)) <= set(map(tuple, cloud.points))


def test_write_ply_round_trip_and_label_colours(tmp_path: Path) -> None:
    cloud = _cloud()
    path = write_points(tmp_path / "out.ply", cloud)
    read = read_points(path)
    assert read.columns == ("x", "y", "z", "nx", "ny", "nz", "r", "g", "b", "label")
    assert np.array_equal(read.points, cloud.points) and np.array_equal(read.normals, cloud.normals)
    assert np.array_equal(read.labels, cloud.labels)
    # the fixed palette: the same label has the same colour, here and in any other file
    assert np.allclose(read.colours * 255, label_colours(cloud.labels), atol=1e-3)
    assert np.allclose(
        read.colours[cloud.labels == 0][0] * 255, (31, 119, 180), atol=1e-3
    )  # tab10 blue
    import open3d as o3d  # any PLY reader sees the colours

    seen = o3d.io.read_point_cloud(str(path))
    assert len(seen.points) == 200 and seen.has_colors()


def test_write_scalars_with_a_colormap_and_npz(tmp_path: Path) -> None:
    points = _cloud().points
    scalars = points[:, 2].astype(np.float64)
    read = read_points(write_points(tmp_path / "s.ply", points, scalars=scalars))
    low, high = read.colours[scalars.argmin()], read.colours[scalars.argmax()]
    assert np.allclose(low * 255, (68, 1, 84), atol=1) and np.allclose(
        high * 255, (253, 231, 37), atol=1
    )
    write_points(tmp_path / "s.npz", points, labels=np.arange(200), scalars=scalars)
    with np.load(tmp_path / "s.npz") as archive:
        assert sorted(archive.files) == ["labels", "points", "scalars"]
        assert np.array_equal(archive["scalars"], scalars)
    assert np.array_equal(read_points(tmp_path / "s.npz").labels, np.arange(200))


def test_write_refuses_bad_input_and_leaves_nothing(tmp_path: Path) -> None:
    points = _cloud().points
    with pytest.raises(DataError, match=r"out\.xyz: cannot write \.xyz; supported: \.ply \.npz"):
        write_points(tmp_path / "out.xyz", points)
    with pytest.raises(DataError, match=r"labels has shape \(3,\), expected \(200,\)"):
        write_points(tmp_path / "out.ply", points, labels=np.arange(3))
    bad = points.copy()
    bad[5, 1] = np.nan
    with pytest.raises(DataError, match="points has NaN/Inf"):
        write_points(tmp_path / "out.ply", bad)
    assert list(tmp_path.iterdir()) == []  # no file, no temporary left behind
