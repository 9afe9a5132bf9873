"""Property tests: hostile headers for every format end as one DataError line or a correct cloud,
within a time and memory bound.

Hypothesis writes a file whose header declares counts, sizes and types drawn at random (honest ones
among them) over a body that may or may not match; each read runs in a bounded child
(:mod:`tests.io.bounded`: 20 s, 1 GiB). When the header is honest, the cloud read must be the one
written; whatever is accepted must be finite and within the caps.
"""

from __future__ import annotations

import itertools
import struct
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pointea.io.bounds import LABEL_LIMIT, MAX_COORDINATE
from tests.io.bounded import read_summary, run_bounded

SETTINGS = settings(
    max_examples=40,
    deadline=None,  # the child's own bound (20 s) is the deadline
    database=None,  # nothing shared between test workers
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HUGE = st.sampled_from([0, 1, 2, 3, 7, 50, 2**16, 2**31 - 1, 2**32 - 1, 2**32, 2**40, 2**63 - 1])


def _check(path: Path, kwargs: dict | None = None) -> dict | None:
    """The cloud read (as a summary), or ``None`` after one DataError line naming the file."""
    outcome = run_bounded(read_summary, path, kwargs or {}, seconds=20, memory=1 << 30)
    assert outcome.kind in ("ok", "DataError"), outcome
    if outcome.kind == "DataError":
        assert "\n" not in outcome.message and outcome.message.startswith(f"{path}: "), outcome
        return None
    cloud = outcome.value
    assert np.isfinite(cloud["points"]).all()
    assert np.abs(cloud["points"]).max() <= MAX_COORDINATE
    if cloud["labels"] is not None:
        assert np.abs(cloud["labels"]).max() <= LABEL_LIMIT
    return cloud


_NAMES = itertools.count()


def _file(folder: Path, data: bytes, suffix: str) -> Path:
    """A new file in the test's tmp_path (shared by its examples, so each gets its own name)."""
    path = folder / f"cloud{next(_NAMES)}{suffix}"
    path.write_bytes(data)
    return path


POINTS = st.integers(1, 40).flatmap(
    lambda n: st.builds(
        lambda seed: np.random.default_rng(seed).uniform(-1, 1, (n, 3)).astype(np.float32),
        st.integers(0, 2**16),
    )
)


@SETTINGS
@given(
    points=POINTS,
    declared=st.one_of(st.none(), HUGE),
    width=st.one_of(st.none(), HUGE),
    size=st.sampled_from(["4 4 4", "8 8 8", "4 4", "3 4 4", "4 4 4 4"]),
    mode=st.sampled_from(["binary", "ascii", "binary_compressed", "lzf"]),
    cut=st.integers(0, 64),
)
def test_pcd_headers(tmp_path: Path, points, declared, width, size, mode, cut) -> None:
    n = points.shape[0]
    honest = (
        declared is None
        and width is None
        and size == "4 4 4"
        and mode in ("binary", "ascii")
        and cut == 0
    )
    declared = n if declared is None else declared
    width = declared if width is None else width
    header = (
        f"# .PCD v0.7\nVERSION 0.7\nFIELDS x y z\nSIZE {size}\nTYPE F F F\nCOUNT 1 1 1\n"
        f"WIDTH {width}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {declared}\nDATA {mode}\n"
    )
    if mode == "ascii":
        body = "".join(f"{x!r} {y!r} {z!r}\n" for x, y, z in points.tolist()).encode()
    elif mode == "binary_compressed":
        body = struct.pack("<II", len(points.tobytes()), points.nbytes) + points.tobytes()
    else:
        body = points.tobytes()
    data = header.encode() + body
    cloud = _check(_file(tmp_path, data[: len(data) - cut], ".pcd"))
    if honest:
        assert cloud is not None and np.array_equal(cloud["points"], points)
    elif cloud is not None:
        assert len(cloud["points"]) == declared


PLY_TYPES = st.sampled_from(["float", "double", "int", "uchar", "short"])


@SETTINGS
@given(
    points=POINTS,
    fmt=st.sampled_from(["ascii", "binary_little_endian", "binary_big_endian"]),
    declared=st.one_of(st.none(), HUGE),
    kind=st.one_of(st.just("float"), PLY_TYPES),
    faces=st.lists(
        st.tuples(st.integers(-2, 45), st.integers(-2, 45), st.integers(-2, 45)), max_size=5
    ),
    declared_faces=st.one_of(st.none(), HUGE),
    extra=st.binary(max_size=40),
)
def test_ply_headers(
    tmp_path: Path, points, fmt, declared, kind, faces, declared_faces, extra
) -> None:
    n = points.shape[0]
    honest = declared is None and kind == "float" and not extra
    declared = n if declared is None else declared
    lines = ["ply", f"format {fmt} 1.0", f"element vertex {declared}"]
    lines += [f"property {kind} {axis}" for axis in "xyz"]
    if faces or declared_faces is not None:
        lines += [f"element face {len(faces) if declared_faces is None else declared_faces}"]
        lines += ["property list uchar int vertex_indices"]
    header = ("\n".join([*lines, "end_header"]) + "\n").encode()
    dtype = {"float": "f4", "double": "f8", "int": "i4", "uchar": "u1", "short": "i2"}[kind]
    values = (
        points.astype(dtype)
        if kind in ("float", "double")
        else np.round(points * 100).astype(dtype)
    )
    if fmt == "ascii":
        body = "".join(" ".join(repr(v) for v in row) + "\n" for row in values.tolist())
        body += "".join(f"3 {i} {j} {k}\n" for i, j, k in faces)
        data = header + body.encode()
    else:
        order = "<" if fmt == "binary_little_endian" else ">"
        data = header + values.astype(order + dtype).tobytes()
        data += b"".join(b"\x03" + np.array(face, order + "i4").tobytes() for face in faces)
    data += extra
    path = _file(tmp_path, data, ".ply")
    cloud = _check(path, {"num_points": 16} if faces else {})
    if cloud is None:
        return
    if faces or declared_faces:
        assert len(cloud["points"]) == 16  # a mesh: sampled
        assert all(0 <= i < n for face in faces for i in face) and declared == n
    else:
        assert len(cloud["points"]) == declared
        if honest:
            assert np.array_equal(cloud["points"].astype(np.float32), points)


@SETTINGS
@given(
    edits=st.lists(
        st.tuples(st.sampled_from([94, 96, 100, 104, 105, 107, 131, 235, 243, 247]), HUGE),
        min_size=1,
        max_size=3,
    ),
    cut=st.one_of(st.none(), st.integers(0, 1244)),
    suffix=st.sampled_from([".las", ".laz"]),
)
def test_las_headers(tmp_path: Path, lidar_tiles: Path, edits, cut, suffix) -> None:
    """A real LAS (30 points) or LAZ tile with header fields overwritten and maybe cut short."""
    source = lidar_tiles / ("Example.las" if suffix == ".las" else "Megaplot.laz")
    data = bytearray(source.read_bytes())
    width = {94: 2, 96: 4, 100: 4, 104: 1, 105: 2, 107: 4, 131: 8, 235: 8, 243: 4, 247: 8}
    for offset, value in edits:
        size = width[offset]
        data[offset : offset + size] = (value % 2 ** (8 * size)).to_bytes(size, "little")
    if cut is not None:
        data = data[:cut]
    _check(_file(tmp_path, bytes(data), suffix), {"num_points": 64})


@SETTINGS
@given(
    rows=st.lists(
        st.lists(
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True, width=64),
                st.integers(-(2**70), 2**70),
                st.sampled_from(["1e30", "nan", "x", "", "1e400"]),
            ),
            min_size=1,
            max_size=9,
        ),
        min_size=1,
        max_size=12,
    ),
    num_points=st.sampled_from([None, 8]),
)
def test_text_tables(tmp_path: Path, rows, num_points) -> None:
    text = "\n".join(" ".join(str(value) for value in row) for row in rows) + "\n"
    cloud = _check(_file(tmp_path, text.encode(), ".txt"), {"num_points": num_points})
    if cloud is not None and num_points is None:
        assert len(cloud["points"]) == cloud["num_source_points"] <= len(rows)


@SETTINGS
@given(
    shape=st.tuples(HUGE, st.sampled_from([0, 2, 3, 4, 7, 300, 2**31])),
    descr=st.sampled_from(["<f4", "<f8", "<i4", "|u1", "<U3"]),
    rows=st.integers(0, 20),
    suffix=st.sampled_from([".npy", ".npz"]),
)
def test_numpy_headers(tmp_path: Path, shape, descr, rows, suffix) -> None:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}".encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    itemsize = np.dtype(descr).itemsize
    body = (
        np.random.default_rng(rows)
        .uniform(-1, 1, rows * 4 * max(1, itemsize))
        .astype("<f4")
        .tobytes()
    )
    member = (
        b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + body[: rows * 3 * itemsize]
    )
    if suffix == ".npz":
        import io
        import zipfile

        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("points.npy", member)
        member = buffer.getvalue()
    cloud = _check(_file(tmp_path, member, suffix))
    if cloud is not None:
        assert len(cloud["points"]) == shape[0] <= rows


@SETTINGS
@given(
    counts=st.tuples(HUGE, HUGE),
    vertices=st.lists(st.tuples(*[st.floats(-1e300, 1e300)] * 3), max_size=6),
    faces=st.lists(
        st.lists(st.one_of(st.integers(-3, 8), st.floats(-3, 8)), min_size=1, max_size=6),
        max_size=4,
    ),
)
def test_off_meshes(tmp_path: Path, counts, vertices, faces) -> None:
    lines = ["OFF", f"{counts[0]} {counts[1]} 0"]
    lines += [" ".join(repr(v) for v in vertex) for vertex in vertices]
    lines += [" ".join(str(i) for i in face) for face in faces]
    cloud = _check(_file(tmp_path, ("\n".join(lines) + "\n").encode(), ".off"), {"num_points": 8})
    if cloud is not None:
        assert len(cloud["points"]) == 8
        assert counts[0] <= len(vertices) and counts[1] <= len(faces)


@SETTINGS
@given(
    declared=st.one_of(st.none(), HUGE),
    corners=st.lists(
        st.tuples(*[st.floats(-(2.0**66), 2.0**66, width=32, allow_subnormal=False)] * 9),
        min_size=0,
        max_size=4,
    ),
    extra=st.binary(max_size=60),
)
def test_binary_stl_counts(tmp_path: Path, declared, corners, extra) -> None:
    """A binary STL whose triangle count may not match its facets (open3d reads it)."""
    record = np.dtype([("normal", "<f4", 3), ("corners", "<f4", (3, 3)), ("attribute", "<u2")])
    facets = np.zeros(len(corners), record)
    if corners:
        facets["corners"] = np.asarray(corners, np.float32).reshape(-1, 3, 3)
    count = len(corners) if declared is None else declared
    data = b"binary".ljust(80, b" ") + np.uint32(count % 2**32).tobytes() + facets.tobytes() + extra
    cloud = _check(_file(tmp_path, data, ".stl"), {"num_points": 8})
    if cloud is not None:
        assert len(cloud["points"]) == 8 and count % 2**32 <= len(corners) + len(extra) // 50
