"""Meshes (``.off``, ``.obj``, ``.stl``, ``.ply`` with faces) sampled to points by area and FPS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pointea.errors import DataError
from pointea.io import read_points

from .conftest import CUBE_OFF

CUBE_VERTICES = np.array(
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], float
)
CUBE_TRIANGLES = np.array(
    [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
     [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6], [3, 0, 4], [3, 4, 7]]
)  # fmt: skip


def _on_cube_surface(cloud) -> None:
    points = cloud.points.astype(np.float64)
    assert points.min() >= -1e-6 and points.max() <= 1 + 1e-6
    on_face = (np.abs(points) < 1e-5) | (np.abs(points - 1) < 1e-5)  # (K, 3)
    assert on_face.any(axis=1).all()  # every point lies on a face of the cube
    assert np.allclose(np.linalg.norm(cloud.normals, axis=1), 1, atol=1e-5)
    assert np.allclose(np.abs(cloud.normals).max(axis=1), 1, atol=1e-5)  # axis-aligned normals
    for axis in range(3):  # all six faces are covered
        assert on_face[:, axis].sum() > len(points) / 6


def test_off_cube_is_sampled_on_its_surface(tmp_path: Path) -> None:
    path = tmp_path / "cube.off"
    path.write_text(CUBE_OFF)
    cloud = read_points(path, 600, seed=0)
    assert cloud.points.shape == (600, 3) and cloud.columns == ("mesh",)
    assert cloud.num_source_points == 8
    _on_cube_surface(cloud)
    again = read_points(path, 600, seed=0)
    other = read_points(path, 600, seed=1)
    assert np.array_equal(cloud.points, again.points) and not np.array_equal(
        cloud.points, other.points
    )
    assert read_points(path).points.shape == (2048, 3)  # DEFAULT_MESH_POINTS


def test_princeton_glued_off_header(tmp_path: Path) -> None:
    """Princeton's ModelNet40 has files whose first line is ``OFF490 518 0``."""
    lines = CUBE_OFF.splitlines()
    glued = "\n".join([f"OFF{lines[2]}", *lines[3:]]) + "\n"  # "OFF8 6 0", no comment line
    assert glued.startswith("OFF8 6 0\n0 0 0\n")
    path = tmp_path / "glued.off"
    path.write_text(glued)
    normal = tmp_path / "normal.off"
    normal.write_text(CUBE_OFF)
    assert np.array_equal(read_points(path, 256).points, read_points(normal, 256).points)


def test_area_decides_where_points_go(tmp_path: Path) -> None:
    """Two squares, areas 1 and 4, far apart: about 4/5 of the points land on the big one."""
    small = [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]]
    big = [[0, 0, 5], [2, 0, 5], [2, 2, 5], [0, 2, 5]]
    text = "OFF\n8 4 0\n" + "".join(f"{x} {y} {z}\n" for x, y, z in small + big)
    text += "3 0 1 2\n3 0 2 3\n3 4 5 6\n3 4 6 7\n"
    path = tmp_path / "squares.off"
    path.write_text(text)
    cloud = read_points(path, 1000, seed=0)
    on_big = (cloud.points[:, 2] > 2.5).mean()
    assert 0.75 < on_big < 0.85

    # FPS spreads points: the closest pair is much farther apart than in a plain random draw
    def closest(points: np.ndarray) -> float:
        d = np.linalg.norm(points[:, None] - points[None], axis=-1) + np.eye(len(points)) * 9
        return float(d.min())

    plain = read_points(path, 1000, seed=0, oversample=1)
    assert closest(cloud.points) > 2 * closest(plain.points)


def _write_obj(path: Path) -> Path:
    lines = ["# cube", "o cube"] + [f"v {x} {y} {z}" for x, y, z in CUBE_VERTICES]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in CUBE_TRIANGLES]  # 1-based
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_ascii_stl(path: Path) -> Path:
    lines = ["solid cube"]
    for triangle in CUBE_TRIANGLES:
        a, b, c = CUBE_VERTICES[triangle]
        normal = np.cross(b - a, c - a)
        lines += [
            f"  facet normal {' '.join(map(str, normal / np.linalg.norm(normal)))}",
            "    outer loop",
        ]
        lines += [f"      vertex {x:e} {y:e} {z:e}" for x, y, z in (a, b, c)]
        lines += ["    endloop", "  endfacet"]
    path.write_text("\n".join([*lines, "endsolid cube"]) + "\n")
    return path


def _write_binary_stl(path: Path) -> Path:
    record = np.dtype([("normal", "<f4", 3), ("corners", "<f4", (3, 3)), ("attribute", "<u2")])
    facets = np.zeros(len(CUBE_TRIANGLES), record)
    facets["corners"] = CUBE_VERTICES[CUBE_TRIANGLES]
    path.write_bytes(
        b"binary stl".ljust(80, b" ") + np.uint32(len(facets)).tobytes() + facets.tobytes()
    )
    return path


def _write_ply_mesh(path: Path) -> Path:
    header = [
        "ply",
        "format ascii 1.0",
        f"element vertex {len(CUBE_VERTICES)}",
        "property float x",
        "property float y",
        "property float z",
        f"element face {len(CUBE_TRIANGLES)}",
        "property list uchar int vertex_indices",
        "end_header",
    ]
    body = [f"{x} {y} {z}" for x, y, z in CUBE_VERTICES] + [
        f"3 {a} {b} {c}" for a, b, c in CUBE_TRIANGLES
    ]
    path.write_text("\n".join(header + body) + "\n")
    return path


@pytest.mark.parametrize(
    ("name", "writer"),
    [
        ("cube.obj", _write_obj),
        ("cube.stl", _write_ascii_stl),
        ("binary.stl", _write_binary_stl),
        ("cube.ply", _write_ply_mesh),
    ],
)
def test_open3d_meshes(tmp_path: Path, name: str, writer) -> None:
    cloud = read_points(writer(tmp_path / name), 300, seed=0)
    assert cloud.points.shape == (300, 3) and cloud.columns == ("mesh",)
    _on_cube_surface(cloud)


def test_zero_area_mesh_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "flat.off"
    path.write_text("OFF\n3 1 0\n0 0 0\n1 1 1\n2 2 2\n3 0 1 2\n")  # collinear corners
    with pytest.raises(DataError, match=r"flat\.off: the mesh has zero surface area"):
        read_points(path, 10)


def test_mesh_sampling_keeps_the_points_the_networks_fps_picks(monkeypatch, tmp_path: Path) -> None:
    """Mesh sampling runs pointea.layers.sampling.fps (the one FPS) on the points it drew and keeps
    exactly those, which lie farther apart than as many drawn points taken at random."""
    import torch

    from pointea.io.mesh_sampling import sample_mesh
    from pointea.layers import sampling

    calls = []
    real_fps = sampling.fps

    def spy(points, num_samples, *args, **kwargs):
        picked = real_fps(points, num_samples, *args, **kwargs)
        calls.append((points.clone(), picked.clone()))
        return picked

    monkeypatch.setattr(sampling, "fps", spy)
    kept, _ = sample_mesh(tmp_path / "cube.off", CUBE_VERTICES, CUBE_TRIANGLES, 256, seed=3)
    (drawn, picked), = calls
    assert drawn.shape == (256 * 4, 3) and picked.shape == (256,)
    assert np.array_equal(kept, drawn[picked].numpy())

    def closest_pair(points: np.ndarray) -> float:
        distance = np.linalg.norm(points[:, None] - points[None], axis=-1) + np.eye(len(points)) * 1e9
        return float(distance.min())

    random_subset = drawn[torch.randperm(len(drawn), generator=torch.Generator().manual_seed(0))[:256]].numpy()
    assert closest_pair(kept) > 2 * closest_pair(random_subset)


@pytest.mark.parametrize("ascii", [True, False])
def test_ply_meshes_read_as_open3d_writes_and_reads_them(tmp_path: Path, ascii: bool) -> None:
    """pointea parses PLY meshes itself (open3d's reader believes the header); on a mesh open3d
    writes (double vertices, normals, colours, uint indices) both read the same vertices and
    triangles, and a quad face splits into the same fan as OFF's."""
    import open3d as o3d

    from pointea.io.ply import read_ply_header, read_ply_mesh

    rng = np.random.default_rng(0)
    mesh = o3d.geometry.TriangleMesh.create_sphere(radius=0.7, resolution=8)
    mesh.vertex_colors = o3d.utility.Vector3dVector(rng.uniform(0, 1, (len(mesh.vertices), 3)))
    mesh.compute_vertex_normals()
    path = tmp_path / "sphere.ply"
    assert o3d.io.write_triangle_mesh(str(path), mesh, write_ascii=ascii)
    vertices, triangles = read_ply_mesh(path, read_ply_header(path))
    again = o3d.io.read_triangle_mesh(str(path))
    assert np.allclose(vertices, np.asarray(again.vertices), atol=1e-6 if ascii else 0)
    assert np.array_equal(triangles, np.asarray(again.triangles))
    quads = tmp_path / "quads.ply"
    header = "ply\nformat binary_big_endian 1.0\nelement vertex 8\nproperty double x\nproperty double y\n"
    header += (
        "property double z\nelement face 6\nproperty list uchar uint vertex_indices\nend_header\n"
    )
    faces = [(0, 1, 2, 3), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
    body = CUBE_VERTICES.astype(">f8").tobytes() + b"".join(
        b"\x04" + np.array(face, ">u4").tobytes() for face in faces
    )
    quads.write_bytes(header.encode() + body)
    off = tmp_path / "cube.off"
    off.write_text(CUBE_OFF)
    assert np.array_equal(read_points(quads, 300).points, read_points(off, 300).points)


def test_binary_ply_mesh_of_mixed_polygons(tmp_path: Path) -> None:
    """A triangle and a quad (row by row, not one NumPy view) split into fans, in face order."""
    from pointea.io.ply import read_ply_header, read_ply_mesh

    header = (
        "ply\nformat binary_little_endian 1.0\nelement vertex 5\nproperty float x\nproperty float y\n"
        "property float z\nelement face 2\nproperty list uchar int vertex_indices\nproperty uchar flag\n"
        "end_header\n"
    )
    vertices = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]], "<f4")
    faces = b"\x03" + np.array([0, 1, 4], "<i4").tobytes() + b"\x07"
    faces += b"\x04" + np.array([0, 1, 2, 3], "<i4").tobytes() + b"\x07"
    path = tmp_path / "mixed.ply"
    path.write_bytes(header.encode() + vertices.tobytes() + faces)
    read, triangles = read_ply_mesh(path, read_ply_header(path))
    assert np.array_equal(read, vertices)
    assert triangles.tolist() == [[0, 1, 4], [0, 1, 2], [0, 2, 3]]
    path.write_bytes(header.encode() + vertices.tobytes() + faces[:-3])
    with pytest.raises(
        DataError, match=r"mixed\.ply: truncated: the header declares 2 'face' rows"
    ):
        read_ply_mesh(path, read_ply_header(path))
