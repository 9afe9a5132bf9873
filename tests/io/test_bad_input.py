"""Bad files: one DataError line naming the file (and the line, for text), nothing half-read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pointea.errors import DataError
from pointea.io import SUPPORTED_EXTENSIONS, read_points

GARBAGE = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))

CASES = [
    # (file name, content, read_points keyword arguments, expected message after the path)
    ("empty.xyz", b"", {}, r"empty file"),
    ("blank.txt", b"\n\n  \n", {}, r"empty file"),
    ("header.csv", b"x,y,z,nx,ny,nz\n", {}, r"header only, no data lines after line 1"),
    ("nan.txt", b"1 2 3\n4 nan 6\n7 8 9\n", {}, r"line 2: NaN/Inf value"),
    ("inf.csv", b"x,y,z\n1,2,3\n4,5,6\n7,inf,9\n", {}, r"line 4: NaN/Inf value"),
    (
        "mixed.xyz",
        b"1 2 3\n4 5 6\n\n7 8\n",
        {},
        r"line 4: 2 columns, expected 3 like the first data line",
    ),
    ("word.xyz", b"1 2 3\n4 five 6\n", {}, r"line 2: 'five' is not a number"),
    ("two.xyz", b"1 2\n3 4\n", {}, r"line 1: 2 column\(s\), expected at least x y z"),
    ("same.xyz", b"1 2 3\n1 2 3\n1 2 3\n", {}, r"all 3 points coincide"),
    (
        "label.txt",
        b"0 0 0 1\n1 0 0 2\n0 1 0 7\n",
        {"label_range": (0, 3)},
        r"line 3: label 7 is outside 0\.\.3",
    ),
    ("half.txt", b"0 0 0 1\n1 0 0 2.5\n", {}, r"line 2: label 2\.5 is not an integer"),
    ("garbage.txt", GARBAGE, {}, r"binary data, expected text"),
    ("latin1.xyz", "1 2 3 é\n".encode("latin-1") * 10, {}, r"not a text file"),
    ("garbage.off", GARBAGE, {}, r"binary data, expected a text OFF mesh"),
    ("notoff.off", b"PLY\n3 1 0\n", {}, r"line 1: expected the header 'OFF'"),
    (
        "short.off",
        b"OFF\n4 2 0\n0 0 0\n1 0 0\n0 1 0\n0 0 1\n3 0 1 2\n",
        {},
        r"4 vertices and 2 faces announced on line 2, but only 5 lines follow",
    ),
    (
        "index.off",
        b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n",
        {},
        r"line 6: vertex index out of range 0\.\.2",
    ),
    ("nofaces.off", b"OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n", {}, r"the mesh has no faces"),
    ("garbage.ply", GARBAGE, {}, r"not a PLY file"),
    (
        "truncated.ply",
        b"ply\nformat binary_little_endian 1.0\nelement vertex 10\nproperty float x\nproperty float y\nproperty float z\nend_header\n"
        + bytes(50),
        {},
        r"truncated: 10 vertices of 12 bytes need 120 bytes after the header, the file has 50",
    ),
    ("garbage.pcd", GARBAGE, {}, r"not a PCD file"),
    ("garbage.npy", GARBAGE, {}, r"not a NumPy \.npy array"),
    ("garbage.npz", GARBAGE, {}, r"not a NumPy \.npz \(zip\) archive"),
    (
        "cut.npy",
        b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (100, 3), }",
        {},
        r"not a readable NumPy \.npy file",
    ),
    ("ragged.npy", np.zeros((4, 2)).tobytes(), {}, r"not a NumPy \.npy array"),
    ("garbage.las", GARBAGE, {}, r"not a LAS file"),
    ("garbage.obj", GARBAGE, {}, r"open3d read no vertices from this \.obj mesh"),
    ("garbage.stl", GARBAGE, {}, r"declares [0-9,]+ triangles, more than the 20,000,000 allowed"),
    ("scan.rcp", b"ReCap", {}, r"unknown extension '\.rcp'; supported: \.csv \.e57 \.las \.laz \.npy"),
    ("scan.e57", b"ASTM-E57", {}, r"not a readable \.e57 file"),  # pointea.io.e57
]


@pytest.mark.parametrize(("name", "content", "kwargs", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_file_is_one_line_naming_it(
    tmp_path: Path, name: str, content: bytes, kwargs: dict, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read_points(path, **kwargs)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: "), text
    assert __import__("re").search(message, text), text


def test_a_directory_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(
        DataError,
        match=rf"^{tmp_path}: is a directory, expected a point file \(\.csv .*\.xyzrgb\)$",
    ):
        read_points(tmp_path)
    with pytest.raises(DataError, match=r"nothing\.ply: no such file$"):
        read_points(tmp_path / "nothing.ply")


def test_the_unknown_extension_message_lists_every_reader() -> None:
    assert set(SUPPORTED_EXTENSIONS) == {
        ".csv", ".e57", ".las", ".laz", ".npy", ".npz", ".obj", ".off", ".pcd", ".ply", ".pts", ".stl",
        ".txt", ".xyz", ".xyzn", ".xyzrgb",
    }  # fmt: skip


def test_a_bad_row_is_found_in_any_chunk(tmp_path: Path) -> None:
    """The fast path parses a chunk in one call; a bad row deep inside still gets its line."""
    lines = [b"%d %d %d" % (i, i + 1, i + 2) for i in range(5000)]
    lines[4321] = b"1 2 nan"
    path = tmp_path / "deep.xyz"
    path.write_bytes(b"\n".join(lines))
    for chunk in (1 << 20, 1000):
        with pytest.raises(DataError, match=r"deep\.xyz: line 4322: NaN/Inf value"):
            read_points(path, 100, chunk_bytes=chunk)


def test_numpy_arrays_of_the_wrong_shape(tmp_path: Path) -> None:
    np.save(tmp_path / "flat.npy", np.zeros((5, 2)))
    with pytest.raises(
        DataError,
        match=r"flat\.npy: the array has shape \(5, 2\), expected \(points, >= 3 columns\)",
    ):
        read_points(tmp_path / "flat.npy")
    np.savez(tmp_path / "nopoints.npz", normals=np.zeros((5, 3)), labels=np.zeros(5))
    with pytest.raises(
        DataError, match=r"nopoints\.npz: no points array; expected one of points, xyz"
    ):
        read_points(tmp_path / "nopoints.npz")
