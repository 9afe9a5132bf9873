"""LAS/LAZ lidar files, read with laspy in chunks.

Coordinates: LAS stores scaled integers around a georeferenced offset (easting/northing in metres,
often 10^5 to 10^7), which float32 cannot hold to the centimetre. So points are returned relative
to the file's header offset, and :attr:`PointCloud.origin` holds that offset (float64): add it back
for the true coordinates. The ASPRS ``classification`` becomes the labels; RGB, when the point
format has it (16-bit in LAS), becomes colours in [0, 1].

``.laz`` (compressed) needs a laspy backend: ``pip install "laspy[lazrs]"`` (pointea's ``las``
extra installs it).

Bounds (:mod:`pointea.io.bounds`): laspy believes the header (a VLR count of 0xFFFFFFF0 loops for
minutes while memory grows), so the public header block is checked here first: its size, the
offset of the points, the VLRs (54 bytes each at the least) and EVLRs (60) within the file, the
points (record length x count) within the bytes after that offset (LAZ: ``LAZ_MAX_RATIO`` times
them), a LAZ chunk table of no more chunks than bytes, and ``max_points`` when all points are kept.
Then reading costs time and memory in proportion to the file; any laspy/lazrs failure is one
:class:`~pointea.errors.DataError` line.

Shape legend: R points in a chunk, C columns.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from pointea.errors import DataError
from pointea.io.bounds import LAZ_MAX_RATIO, check_declared, parser_errors
from pointea.io.selection import KeepAll, KeepRandom, KeptRows

__all__ = ["read_las_rows", "check_las_header", "LAS_CHUNK_POINTS"]

LAS_CHUNK_POINTS = 1_000_000
_VLR_HEADER, _EVLR_HEADER = 54, 60


def check_las_header(path: Path, keeper: KeepAll | KeepRandom) -> int:
    """The point count a LAS/LAZ public header declares, once everything it declares fits the file.

    Raises:
        DataError: a header that does not fit the file (naming what it declares).
    """
    size = path.stat().st_size
    with open(path, "rb") as stream:
        head = stream.read(375)
    if len(head) < 227 or not head.startswith(b"LASF"):
        raise DataError(f"{path}: not a LAS file (no 'LASF' header of 227 bytes)")
    major, minor = head[24], head[25]
    if major != 1 or minor > 4:
        raise DataError(f"{path}: LAS version {major}.{minor}, expected 1.0 to 1.4")
    header_size, offset, vlrs = struct.unpack_from("<HII", head, 94)
    point_format, record_length, legacy_count = struct.unpack_from("<BHI", head, 104)
    least_header = 375 if minor >= 4 else 227
    if not least_header <= header_size <= offset <= size:
        raise DataError(
            f"{path}: LAS header of {header_size} bytes with points at byte {offset}, in a file "
            f"of {size} bytes (expected {least_header} <= header <= offset <= file size)"
        )
    check_declared(path, f"{vlrs:,} VLRs", vlrs * _VLR_HEADER, offset - header_size)
    count = legacy_count
    if minor >= 4:
        if len(head) < 375:
            raise DataError(f"{path}: LAS 1.4 header cut short ({len(head)} of 375 bytes)")
        evlr_start, evlrs, count_64 = struct.unpack_from("<QIQ", head, 235)
        count = max(count, count_64)
        if evlrs:
            if evlr_start > size:
                raise DataError(f"{path}: LAS EVLRs declared at byte {evlr_start:,}, past the end")
            check_declared(path, f"{evlrs:,} EVLRs", evlrs * _EVLR_HEADER, size - evlr_start)
    keeper.expect(count)
    compressed = bool(point_format & 0xC0)
    points_bytes = size - offset
    if compressed:
        check_declared(
            path, f"{count:,} compressed points of {record_length} bytes",
            count * record_length // LAZ_MAX_RATIO, points_bytes,
        )  # fmt: skip
        _check_chunk_table(path, offset, size)
    else:
        check_declared(
            path, f"{count:,} points of {record_length} bytes", count * record_length, points_bytes
        )
    return count


def _check_chunk_table(path: Path, offset: int, size: int) -> None:
    """A LAZ chunk table (its offset is the first 8 bytes of the points) of no more chunks than bytes."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        raw = stream.read(8)
        if len(raw) < 8:
            raise DataError(f"{path}: LAZ points cut short (no chunk table offset)")
        (table,) = struct.unpack("<q", raw)
        if table == -1:  # not written: the chunks are found by reading them in turn
            return
        if not offset + 8 <= table <= size - 8:
            raise DataError(
                f"{path}: LAZ chunk table at byte {table:,}, outside the points "
                f"({offset + 8:,}..{size - 8:,})"
            )
        stream.seek(table)
        _, chunks = struct.unpack("<II", stream.read(8))
    check_declared(path, f"a LAZ chunk table of {chunks:,} chunks", chunks, table - offset - 8)


def read_las_rows(
    path: Path, keeper: KeepAll | KeepRandom, chunk_points: int = LAS_CHUNK_POINTS
) -> tuple[KeptRows, tuple[str, ...], np.ndarray]:
    """Kept rows, their column names and the coordinate origin of a ``.las``/``.laz`` file.

    Shapes:
        returns rows (K, C) float32, origin (3,) float64
    """
    try:
        import laspy
    except ImportError as error:
        raise DataError(
            f"{path}: reading {path.suffix} files needs laspy ({error}); install it with "
            '`pip install "laspy[lazrs]"` (or pointea[las])'
        ) from None
    check_las_header(path, keeper)
    with parser_errors(path, f"{path.suffix} file"), laspy.open(path) as reader:
        origin = np.asarray(reader.header.offsets, dtype=np.float64)  # (3,)
        dimensions = set(reader.header.point_format.dimension_names)
        colour = {"red", "green", "blue"} <= dimensions
        colour_scale = None
        for chunk in reader.chunk_iterator(chunk_points):
            columns = [
                np.asarray(chunk.x) - origin[0],
                np.asarray(chunk.y) - origin[1],
                np.asarray(chunk.z) - origin[2],
            ]
            if colour:
                rgb = np.stack([chunk.red, chunk.green, chunk.blue], axis=1)  # (R, 3) uint16
                if colour_scale is None:  # 8-bit values in 16-bit fields happen: look once
                    colour_scale = 65535.0 if rgb.max(initial=0) > 255 else 255.0
                columns += list((rgb / colour_scale).T)
            columns.append(np.asarray(chunk.classification))
            keeper.add(np.stack(columns, axis=1).astype(np.float64))  # (R, C)
    if keeper.num_rows == 0:
        raise DataError(f"{path}: the file holds no points")
    names = ("x", "y", "z", *(("r", "g", "b") if colour else ()), "label")
    return keeper.finish(), names, origin
