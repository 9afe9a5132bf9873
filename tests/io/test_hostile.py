"""Hostile files (issue 19): what a header or a line declares is checked against the file before
anything is allocated, third-party parser failures are one DataError line, values are checked.

Each read runs in a forked child bounded in time and memory (:mod:`tests.io.bounded`): before the
readers checked declared sizes, these cases hung (LAS VLR counts), allocated gigabytes (a million
columns, a PCD point count) or died with ``std::bad_alloc``.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from pointea.errors import DataError
from pointea.io import read_points, write_points
from pointea.io.bounds import LABEL_LIMIT, MAX_COORDINATE
from tests.io.bounded import read_summary, run_bounded

PCD_HEADER = (
    "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\nFIELDS x y z\nSIZE 4 4 4\n"
    "TYPE F F F\nCOUNT 1 1 1\nWIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {n}\nDATA {mode}\n"
)
SECONDS, MEMORY = 20, 1 << 30  # each hostile read: at most 20 s and 1 GiB more address space


def _refused(path: Path, pattern: str, **kwargs) -> str:
    """Read ``path`` under the bounds; it must end in one DataError line naming it."""
    outcome = run_bounded(read_summary, path, kwargs, seconds=SECONDS, memory=MEMORY)
    assert outcome.kind == "DataError", outcome
    assert "\n" not in outcome.message and outcome.message.startswith(f"{path}: "), outcome
    assert re.search(pattern, outcome.message), outcome.message
    return outcome.message


def _ply(header_lines: list[str], body: bytes, fmt: str = "ascii") -> bytes:
    return (
        "\n".join(["ply", f"format {fmt} 1.0", *header_lines, "end_header"]) + "\n"
    ).encode() + body


TRIANGLE_VERTICES = "0 0 0\n1 0 0\n0 1 0\n1 1 0\n"
MESH_HEADER = [
    "element vertex 4", "property float x", "property float y", "property float z",
    "element face {faces}", "property list uchar int vertex_indices",
]  # fmt: skip


# --- declared sizes -----------------------------------------------------------------------------


@pytest.mark.parametrize("num_points", [None, 1024])
def test_pcd_declaring_billions_of_points(tmp_path: Path, num_points: int | None) -> None:
    """Was ``MemoryError: std::bad_alloc`` from open3d."""
    path = tmp_path / "huge.pcd"
    path.write_bytes(PCD_HEADER.format(n=4_000_000_000, mode="binary").encode() + bytes(120))
    _refused(
        path,
        r"declares 4,000,000,000 points, more than the 20,000,000 allowed",
        num_points=num_points,
    )


@pytest.mark.parametrize("mode", ["binary", "ascii"])
def test_pcd_declaring_more_points_than_its_bytes(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "short.pcd"
    body = np.zeros((10, 3), np.float32).tobytes() if mode == "binary" else b"0 0 0\n1 1 1\n" * 5
    path.write_bytes(PCD_HEADER.format(n=100_000, mode=mode).encode() + body)
    _refused(path, r"truncated or corrupt: the header declares 100,000 .*points")


def test_pcd_compressed_block_claiming_more_than_lzf_can_expand(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pcd"
    n = 10_000_000
    body = struct.pack("<II", 16, n * 12) + bytes(16)
    path.write_bytes(PCD_HEADER.format(n=n, mode="binary_compressed").encode() + body)
    _refused(path, r"bytes from LZF")


def test_a_good_pcd_still_reads(tmp_path: Path) -> None:
    points = np.random.default_rng(0).uniform(-1, 1, (50, 3)).astype(np.float32)
    path = tmp_path / "good.pcd"
    path.write_bytes(PCD_HEADER.format(n=50, mode="binary").encode() + points.tobytes())
    assert np.array_equal(read_points(path).points, points)


def _las_header_fields(data: bytes) -> tuple[int, int]:
    header_size, offset, _ = struct.unpack_from("<HII", data, 94)
    return header_size, offset


def test_las_garbage_behind_a_valid_signature(tmp_path: Path) -> None:
    """404 bytes of 'LASF' + random bytes: laspy looped for minutes while memory grew."""
    for seed in range(5):
        path = tmp_path / f"garbage{seed}.las"
        rng = np.random.default_rng(seed)
        path.write_bytes(b"LASF" + bytes(rng.integers(0, 256, 400, dtype=np.uint8)))
        _refused(path, r"LAS|truncated or corrupt")
    laz = tmp_path / "garbage.laz"  # the same, believable version, as a .laz
    data = bytearray(
        b"LASF" + bytes(np.random.default_rng(9).integers(0, 256, 400, dtype=np.uint8))
    )
    data[24:26] = b"\x01\x02"
    laz.write_bytes(bytes(data))
    _refused(laz, r"LAS|truncated or corrupt")


@pytest.mark.parametrize("name", ["Example.las", "autzen_trim.las", "Megaplot.laz"])
def test_real_las_with_a_vlr_count_of_0xfffffff0(
    tmp_path: Path, lidar_tiles: Path, name: str
) -> None:
    """A real tile whose VLR count is edited: laspy looped reading VLRs (4.8 GB after 200 s)."""
    data = bytearray((lidar_tiles / name).read_bytes())
    struct.pack_into("<I", data, 100, 0xFFFFFFF0)
    path = tmp_path / name
    path.write_bytes(bytes(data))
    _refused(path, r"declares 4,294,967,280 VLRs")


@pytest.mark.parametrize("field", ["count", "record", "offset"])
def test_real_las_with_edited_point_declarations(
    tmp_path: Path, lidar_tiles: Path, field: str
) -> None:
    data = bytearray((lidar_tiles / "autzen_trim.las").read_bytes())
    if field == "count":
        struct.pack_into("<I", data, 107, 0xFFFFFFFF)  # legacy point count
    elif field == "record":
        struct.pack_into("<H", data, 105, 0xFFFF)  # point record length
    else:
        struct.pack_into("<I", data, 96, len(data) + 1)  # points after the end of the file
    path = tmp_path / "edited.las"
    path.write_bytes(bytes(data))
    _refused(path, r"truncated or corrupt|points at byte", num_points=1024)
    if field == "count":  # kept whole, the cap speaks first
        _refused(path, r"declares 4,294,967,295 points, more than the 20,000,000 allowed")


def test_real_laz_with_garbage_points(tmp_path: Path, lidar_tiles: Path) -> None:
    """A real LAZ whose compressed points are replaced by random bytes (header and chunk table
    offset kept): lazrs fails, and that failure is one line."""
    data = bytearray((lidar_tiles / "Megaplot.laz").read_bytes())
    _, offset = _las_header_fields(data)
    rng = np.random.default_rng(0)
    data[offset + 8 : -64] = bytes(rng.integers(0, 256, len(data) - offset - 72, dtype=np.uint8))
    path = tmp_path / "garbage_points.laz"
    path.write_bytes(bytes(data))
    for num_points in (None, 1024):
        _refused(path, r"not a readable \.laz file|truncated or corrupt", num_points=num_points)


def test_text_line_of_a_million_columns(tmp_path: Path) -> None:
    """``read_points(..., num_points=1024)`` allocated 3.8 GiB for it."""
    path = tmp_path / "wide.txt"
    line = b" ".join([b"0.5"] * 1_000_000) + b"\n"
    path.write_bytes(line * 3)
    _refused(path, r"line 1: 1,000,000 columns, more than the 256", num_points=1024)
    narrow_first = tmp_path / "wide_later.txt"  # a short first line, then the wide one
    narrow_first.write_bytes(b"0 0 0\n1 1 1\n" + line)
    _refused(narrow_first, r"line 3: 1000000 columns, expected 3", num_points=1024)


def test_text_without_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "one_line.xyz"
    path.write_bytes(b"1 2 " + b"3" * 300_000)
    _refused(path, r"line 1: longer than 65,536 bytes", chunk_bytes=4096)


def test_ply_faces_indexing_past_the_vertices(tmp_path: Path) -> None:
    """Was ``IndexError: index 99 is out of bounds`` from the mesh sampler."""
    header = [line.format(faces=2) for line in MESH_HEADER]
    path = tmp_path / "index.ply"
    path.write_bytes(_ply(header, (TRIANGLE_VERTICES + "3 0 1 2\n3 1 2 99\n").encode()))
    _refused(path, r"a PLY face has a vertex index outside 0\.\.3")
    path.write_bytes(_ply(header, (TRIANGLE_VERTICES + "3 0 1 2\n3 1 2 0.5\n").encode()))
    _refused(path, r"PLY face vertex indices must be whole numbers")


def test_ply_declaring_more_faces_than_it_has(tmp_path: Path) -> None:
    """open3d read the two faces there are and said nothing."""
    header = [line.format(faces=50) for line in MESH_HEADER]
    path = tmp_path / "short_faces.ply"
    path.write_bytes(_ply(header, (TRIANGLE_VERTICES + "3 0 1 2\n3 1 2 3\n").encode()))
    _refused(path, r"the header declares .*50 face.*needs at least")
    header = [line.format(faces=10) for line in MESH_HEADER]  # fits the bytes, not the lines
    body = TRIANGLE_VERTICES + "3 0 1 2\n3 1 2 3\n" + " \n" * 120
    path.write_bytes(_ply(header, body.encode()))
    _refused(path, r"the header declares 10 'face' rows, 2 lines follow")
    binary = ["element vertex 4", "property float x", "property float y", "property float z",
              "element face 10", "property list uchar int vertex_indices"]  # fmt: skip
    faces = b"".join(b"\x03" + np.array(face, "<i4").tobytes() for face in [(0, 1, 2), (1, 2, 3)])
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0]], "<f4").tobytes()
    path.write_bytes(_ply(binary, vertices + faces + bytes(100), "binary_little_endian"))
    _refused(path, r"face 'rows'|a PLY face has a vertex index|truncated|bytes after the elements")


def test_ply_declaring_more_vertices_than_lines(tmp_path: Path) -> None:
    """An ASCII mesh declaring 2 vertices over 1 vertex line and 1 face line: open3d's reader
    died of a segmentation fault (found by the property tests)."""
    header = ["element vertex 2", "property float x", "property float y", "property float z",
              "element face 1", "property list uchar int vertex_indices"]  # fmt: skip
    path = tmp_path / "crash.ply"
    path.write_bytes(_ply(header, b"0.25 0.5 0.75\n3 0 0 0\n"))
    _refused(path, r"needs at least|2 lines follow|expected 3 numbers a line", num_points=16)


def test_obj_faces_indexing_past_the_vertices(tmp_path: Path) -> None:
    path = tmp_path / "index.obj"
    path.write_bytes(b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 99\n")
    _refused(path, r"open3d read no vertices|vertex index outside")


def test_ply_declaring_a_billion_faces(tmp_path: Path) -> None:
    header = [line.format(faces=1_000_000_000) for line in MESH_HEADER]
    path = tmp_path / "billion.ply"
    path.write_bytes(_ply(header, (TRIANGLE_VERTICES + "3 0 1 2\n").encode()))
    _refused(path, r"declares 1,000,000,000 face elements, more than the 20,000,000")


def test_binary_ply_with_more_vertices_than_its_header(tmp_path: Path) -> None:
    """It was read partially: the first 10 of 100 vertices, silently."""
    points = np.random.default_rng(0).uniform(-1, 1, (100, 3)).astype("<f4")
    header = ["element vertex 10", "property float x", "property float y", "property float z"]
    path = tmp_path / "more.ply"
    path.write_bytes(_ply(header, points.tobytes(), "binary_little_endian"))
    _refused(path, r"1,080 bytes follow the 10 vertices the header declares \(90 more vertices")
    path.write_bytes(_ply(header, points[:10].tobytes() + b"\n", "binary_little_endian"))
    assert np.array_equal(read_points(path).points, points[:10])  # a stray newline is fine


def test_off_face_index_of_one_half(tmp_path: Path) -> None:
    """0.5 was truncated to vertex 0."""
    path = tmp_path / "half.off"
    path.write_bytes(b"OFF\n4 2 0\n" + TRIANGLE_VERTICES.encode() + b"3 0 1 2\n3 1 2 0.5\n")
    _refused(path, r"line 8: vertex indices must be whole numbers")


def test_off_with_huge_coordinates(tmp_path: Path) -> None:
    """Was 'Probabilities contain NaN' from the area-weighted sampler."""
    path = tmp_path / "huge.off"
    path.write_bytes(b"OFF\n3 1 0\n0 0 0\n3e200 0 0\n0 3e200 0\n3 0 1 2\n")
    _refused(path, r"line 4: vertex coordinate of magnitude 3e\+200 beyond 1e\+18")


def test_npz_member_declaring_a_huge_array(tmp_path: Path) -> None:
    """An archive whose member's .npy header declares 10^10 points behind 36 bytes: NumPy
    allocated the declared array before reading."""
    import zipfile

    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (10000000000, 3), }"
    header += b" " * (118 - len(header)) + b"\n"
    member = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(36)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("points.npy", member)
        archive.writestr("labels.npy", member)
    _refused(
        path, r"truncated or corrupt: the header declares 'points.npy' of shape \(10000000000, 3\)"
    )


def test_npy_declaring_more_rows_than_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.npy"
    np.save(path, np.random.default_rng(0).normal(size=(2000, 3)))
    _refused(path, r"declares 2,000 points, more than the 1,000 allowed", max_points=1000)
    assert len(read_points(path, num_points=100)) == 100  # streaming a subset is fine


# --- values -------------------------------------------------------------------------------------


def test_text_label_of_1e30(tmp_path: Path) -> None:
    """Was label -9223372036854775808 with only NumPy's cast warning."""
    path = tmp_path / "labels.txt"
    path.write_bytes(b"0 0 0 1\n1 0 0 2\n0 1 0 1e30\n")
    with pytest.raises(
        DataError, match=rf"labels\.txt: line 3: label 1e\+30 is beyond \+-{LABEL_LIMIT}"
    ):
        read_points(path)


def test_labels_from_binary_files_are_bounded_too(tmp_path: Path) -> None:
    path = tmp_path / "labels.npz"
    np.savez(path, points=np.eye(3), labels=np.array([0, 1, 3e9]))
    with pytest.raises(DataError, match=r"labels\.npz: row 3: label 3e\+09 is beyond"):
        read_points(path)


@pytest.mark.parametrize("suffix", [".xyz", ".npy", ".ply", ".pcd"])
def test_coordinates_beyond_the_encoder_limit(tmp_path: Path, suffix: str) -> None:
    """3e38 passed read_points; the encoder refused it later, without naming the file."""
    points = np.array([[0, 0, 0], [1, 2, 3], [3e38, 0, 1]], np.float32)
    path = tmp_path / f"far{suffix}"
    if suffix == ".xyz":
        path.write_text("0 0 0\n1 2 3\n3e38 0 1\n")
        where = "line 3"
    elif suffix == ".npy":
        np.save(path, points)
        where = "row 3"
    elif suffix == ".ply":
        header = ["element vertex 3", "property float x", "property float y", "property float z"]
        path.write_bytes(_ply(header, points.astype("<f4").tobytes(), "binary_little_endian"))
        where = "row 3"
    else:
        path.write_bytes(PCD_HEADER.format(n=3, mode="binary").encode() + points.tobytes())
        where = "row 3"
    with pytest.raises(
        DataError, match=rf"far\{suffix}: {where}: coordinate of magnitude 3e\+38 beyond 1e\+18"
    ):
        read_points(path)
    assert MAX_COORDINATE == 1e18


def test_the_coordinate_cap_is_the_encoders() -> None:
    torch = pytest.importorskip("torch")
    from pointea.models.encoder import max_coordinate

    assert MAX_COORDINATE == max_coordinate(torch.float32)


def test_survey_offset_airplane_keeps_its_shape(tmp_path: Path, normal_resampled: Path) -> None:
    """A real airplane moved by +5e6 (survey coordinates): parsed to float32 before centring it
    collapsed to 5 distinct x values. Parsed in float64 and centred, it keeps every point apart,
    and the origin restores the true coordinates."""
    source = normal_resampled / "airplane" / "airplane_0001.txt"
    table = np.loadtxt(source, delimiter=",")  # (10000, 6) float64
    moved = table.copy()
    moved[:, :3] += 5e6
    path = tmp_path / "survey.txt"
    np.savetxt(path, moved, fmt="%.6f", delimiter=",")
    cloud = read_points(path)
    assert cloud.origin is not None and np.allclose(cloud.origin, 5e6, atol=1.0)
    original = read_points(source)
    assert np.unique(cloud.points[:, 0]).size == np.unique(original.points[:, 0]).size
    assert np.abs(cloud.true_points() - moved[:, :3]).max() < 1e-6
    centre = (table[:, :3].min(0) + table[:, :3].max(0)) / 2
    assert np.abs(cloud.points - (original.points - centre)).max() < 1e-6
    subset = read_points(path, 1024, seed=1)  # streaming a subset centres the same way
    assert (
        np.abs(subset.true_points() - read_points(source, 1024, seed=1).points - 5e6).max() < 1e-5
    )


def test_a_unit_cloud_gets_no_origin(normal_resampled: Path) -> None:
    cloud = read_points(normal_resampled / "airplane" / "airplane_0001.txt")
    assert cloud.origin is None


def test_las_coordinates_stay_exact(lidar_tiles: Path) -> None:
    """LAS files keep their header offset as origin (plus a centre when still far off): the true
    coordinates come back to the file's scale."""
    import laspy

    for name in ("autzen_trim.las", "Megaplot.laz", "870000_6618000.subset.50mx100m.las"):
        path = lidar_tiles / name
        cloud = read_points(path)
        data = laspy.read(path)
        true = np.stack([data.x, data.y, data.z], axis=1)
        scale = float(np.max(data.header.scales))
        assert np.abs(cloud.true_points() - true).max() <= max(scale, 1e-3), name
        extent = float((true.max(0) - true.min(0)).max())
        assert np.abs(cloud.points).max() <= 128 * extent + 1, name


# --- writers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".ply", ".npz"])
def test_written_files_respect_the_umask(tmp_path: Path, suffix: str) -> None:
    """``.ply`` files were written with mode 0600 (tempfile's)."""
    old = os.umask(0o022)
    try:
        path = write_points(tmp_path / f"cloud{suffix}", np.eye(3))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    os.chmod(path, 0o664)  # rewriting keeps the file's own mode
    write_points(path, np.eye(3) * 2)
    assert path.stat().st_mode & 0o777 == 0o664


def test_a_failed_write_leaves_the_earlier_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_points(tmp_path / "cloud.ply", np.eye(3))
    before = path.read_bytes()

    def full_disk(handle, *args) -> None:
        handle.write(b"ply\nformat")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pointea.io.write._write_ply", full_disk)
    with pytest.raises(DataError, match=r"cloud\.ply: writing failed \(No space left on device\)"):
        write_points(path, np.eye(3) * 5)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cloud.ply"]


def test_the_bound_itself_catches_a_runaway_read(tmp_path: Path) -> None:
    """The harness must be able to fail: a loop and a big allocation end as timeout / MemoryError."""

    assert run_bounded(_spin, seconds=1).kind == "timeout"
    assert run_bounded(np.ones, 1 << 31, memory=1 << 28).kind == "MemoryError"
    finished = run_bounded(len, "seven")
    assert (finished.kind, finished.value) == ("ok", 5)


def _spin() -> None:
    while True:
        pass


def test_seg_label_of_1e30(tmp_path: Path) -> None:
    points = tmp_path / "shape.pts"
    points.write_text("0 0 0\n1 0 0\n0 1 0\n")
    labels = tmp_path / "shape.seg"
    labels.write_text("1\n2\n1e30\n")
    with pytest.raises(DataError, match=r"shape\.seg: line 3: label 1e\+30 is beyond"):
        read_points(points, labels_path=labels)


@pytest.mark.parametrize("suffix", [".ply", ".npz"])
def test_far_off_clouds_are_written_where_they_were(
    tmp_path: Path, lidar_tiles: Path, suffix: str
) -> None:
    """A cloud with an origin is written at its true coordinates (float64) and reads back there,
    centred again: a real LAS tile to .ply/.npz and back keeps every coordinate to 1e-6 m."""
    cloud = read_points(lidar_tiles / "autzen_trim.las", 2048, seed=0)
    assert cloud.origin is not None
    path = write_points(tmp_path / f"tile{suffix}", cloud)
    again = read_points(path)
    assert again.origin is not None
    assert np.abs(again.true_points() - cloud.true_points()).max() < 1e-6
    assert np.array_equal(again.labels, cloud.labels)
