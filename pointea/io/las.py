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

import shutil
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
    scales, offsets = struct.unpack_from("<3d", head, 131), struct.unpack_from("<3d", head, 155)
    for axis, scale, shift in zip("xyz", scales, offsets):
        if not (np.isfinite(scale) and scale != 0 and np.isfinite(shift)):
            raise DataError(
                f"{path}: LAS header {axis} scale {scale!r} and offset {shift!r}; expected a finite, non-zero "
                "scale and a finite offset (every coordinate is offset + scale x the stored integer)"
            )
    count = legacy_count
    after_points = size  # where what follows the points starts (EVLRs, waveform data), or the end
    if minor >= 3:
        (waveform_start,) = struct.unpack_from("<Q", head, 227)
        if 0 < waveform_start <= size:
            after_points = min(after_points, waveform_start)
    if minor >= 4:
        if len(head) < 375:
            raise DataError(f"{path}: LAS 1.4 header cut short ({len(head)} of 375 bytes)")
        evlr_start, evlrs, count_64 = struct.unpack_from("<QIQ", head, 235)
        count = max(count, count_64)
        if evlrs:
            if evlr_start > size:
                raise DataError(f"{path}: LAS EVLRs declared at byte {evlr_start:,}, past the end")
            check_declared(path, f"{evlrs:,} EVLRs", evlrs * _EVLR_HEADER, size - evlr_start)
            after_points = min(after_points, evlr_start)
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
        unread = after_points - offset - count * record_length
        if record_length and unread >= record_length:
            raise DataError(
                f"{path}: {unread:,} bytes after the {count:,} points its header declares, room for "
                f"{unread // record_length:,} more records of {record_length} bytes: the header's point count "
                "is likely wrong (they would be left out)"
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


# Writing a prediction back -------------------------------------------------------------------------

__all__ += ["write_las_classification"]

#: Where the classification sits in a point record, and the bits that are the class code: formats
#: 0-5 keep it in the low 5 bits of byte 15 (the high 3 are the synthetic / key-point / withheld
#: flags), formats 6-10 in the whole of byte 16.
_CLASS_BYTE = {False: (15, 0x1F), True: (16, 0xFF)}
#: Byte offset of the public header's file creation day of year and year (two uint16).
_CREATION_DATE = 90
#: Bytes of a VLR's own header; the (user id, record id) of the LAZ description VLR.
_VLR_HEADER = 54
_LASZIP_VLR = (b"laszip encoded", 22204)


def write_las_classification(
    source: Path, classification: np.ndarray, destination: Path, chunk_points: int = LAS_CHUNK_POINTS
) -> Path:
    """Copy the LAS/LAZ file ``source`` to ``destination`` with ``classification`` as its class codes
    and every other field as it was.

    ``.las`` to ``.las`` (any version, 1.0 to 1.4): a byte copy of the file in which only the class
    code bits of each point record change: the header, the VLRs (coordinate system, extra-bytes
    description, others), every other bit of every point record (coordinates, intensity, returns,
    the synthetic / key-point / withheld / overlap flags, scan angle, user data, point source id,
    GPS time, colour, NIR, wave packets, extra bytes) and whatever follows the points (EVLRs,
    waveform data) are the source's bytes. ``.laz`` output (compressed, with laspy's LAZ backend):
    the points are decompressed, given their class codes and compressed again through laspy; the
    header fields, VLRs, EVLRs and every point field except the classification keep their values
    (laspy writes LAS 1.2 to 1.4 only). Points stream through in chunks of ``chunk_points`` (tiles
    larger than memory), into a temporary file beside ``destination`` that replaces it only when
    complete: no partial file is left behind.

    Shapes:
        classification: (N,) integer class codes, one per point of ``source`` in file order

    Raises:
        DataError: an unreadable or truncated ``source``, a prediction of another length, codes
            the point format cannot hold (above 31 in formats 0-5, above 255 in 6-10), or a
            ``destination`` that is ``source`` itself.
    """
    source, destination = Path(source), Path(destination)
    classification = np.asarray(classification)
    if classification.ndim != 1 or classification.dtype.kind not in "iu":
        raise DataError(
            f"{destination}: classification must be a 1-D integer array, got {classification.dtype} "
            f"of shape {classification.shape}"
        )
    suffix = destination.suffix.lower()
    if suffix not in (".las", ".laz"):
        raise DataError(f"{destination}: a LAS output must end in .las or .laz")
    if destination.exists() and source.exists() and destination.samefile(source):
        raise DataError(
            f"{destination}: is the input itself; the copy would replace the file's own classification "
            "(write it into another folder)"
        )
    try:
        import laspy
    except ImportError as error:
        raise DataError(
            f"{source}: writing {suffix} files needs laspy ({error}); install it with "
            '`pip install "laspy[lazrs]"` (or pointea[las])'
        ) from None
    temporary = destination.with_name(f".{destination.name}.partial")
    try:
        with laspy.open(source) as reader:
            header = reader.header
            count, format_id = int(header.point_count), int(header.point_format.id)
            if classification.shape[0] != count:
                raise DataError(f"{source}: the file holds {count} points, the prediction {classification.shape[0]} labels")
            _, bits = _CLASS_BYTE[format_id >= 6]
            if count and (int(classification.min()) < 0 or int(classification.max()) > bits):
                raise DataError(
                    f"{source}: class codes [{int(classification.min())}, {int(classification.max())}] do not "
                    f"fit point format {format_id}'s classification field (0..{bits})"
                )
            compressed_source = header.are_points_compressed
            destination.parent.mkdir(parents=True, exist_ok=True)
            if suffix == ".laz" or compressed_source:
                _rewrite_with_laspy(laspy, reader, source, classification, temporary, suffix == ".laz", chunk_points)
        if suffix == ".las" and not compressed_source:
            _patch_copy(source, classification, temporary, format_id, count, chunk_points)
        temporary.replace(destination)
    except laspy.errors.LaspyException as error:
        temporary.unlink(missing_ok=True)
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{source}: cannot copy it into {destination} ({type(error).__name__}: {message})") from None
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise DataError(f"{source}: cannot copy it into {destination} ({error})") from None
    except RuntimeError as error:  # lazrs's LazrsError: corrupt compressed points
        temporary.unlink(missing_ok=True)
        message = str(error).splitlines()[0] if str(error) else ""
        raise DataError(f"{source}: cannot copy it into {destination} ({type(error).__name__}: {message})") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return destination


def _patch_copy(
    source: Path, classification: np.ndarray, destination: Path, format_id: int, count: int, chunk_points: int
) -> None:
    """Byte copy of an uncompressed LAS file with the class-code bits of each record replaced."""
    with open(source, "rb") as file_in, open(destination, "wb") as file_out:
        head = file_in.read(107)  # the public header up to the legacy point count
        if len(head) < 107:
            raise DataError(f"{source}: truncated LAS header")
        offset = int(np.frombuffer(head, "<u4", 1, 96)[0])  # offset to point data
        record_length = int(np.frombuffer(head, "<u2", 1, 105)[0])
        byte, bits = _CLASS_BYTE[format_id >= 6]
        file_in.seek(0)
        file_out.write(_read_exactly(file_in, offset, source, "header and VLRs"))
        for start in range(0, count, chunk_points):
            rows = min(chunk_points, count - start)
            data = _read_exactly(file_in, rows * record_length, source, f"points {start}..{start + rows - 1}")
            records = np.frombuffer(data, np.uint8).reshape(rows, record_length).copy()  # (R, record bytes)
            codes = classification[start : start + rows].astype(np.uint8)  # (R,)
            records[:, byte] = (records[:, byte] & ~np.uint8(bits)) | codes
            file_out.write(records.tobytes())
        shutil.copyfileobj(file_in, file_out)  # EVLRs, waveform data: as they were


def _read_exactly(handle, size: int, source: Path, what: str) -> bytes:
    data = handle.read(size)
    if len(data) != size:
        raise DataError(f"{source}: truncated file: {what} need {size} bytes, found {len(data)}")
    return data


def _rewrite_with_laspy(
    laspy, reader, source: Path, classification: np.ndarray, destination: Path, compress: bool, chunk_points: int
) -> None:
    """Decompress, set the class codes chunk by chunk and write through laspy (LAZ output)."""
    evlrs = None
    if reader.header.version.minor >= 4 and reader.header.number_of_evlrs:
        # laspy reads a LAZ file's EVLRs when it opens it (then read_evlrs() gives None: they were dropped)
        evlrs = getattr(reader, "evlrs", None) or reader.read_evlrs()
        if not evlrs:
            raise DataError(f"{source}: its header declares {reader.header.number_of_evlrs} EVLRs, which laspy did not read")
    with laspy.open(destination, mode="w", header=reader.header, do_compress=compress) as writer:
        start = 0
        for chunk in reader.chunk_iterator(chunk_points):
            end = start + len(chunk)
            chunk.classification = classification[start:end]  # a sub-field: the flag bits stay
            writer.write_points(chunk)
            start = end
        if evlrs:
            writer.write_evlrs(evlrs)
    _restore_source_bytes(source, destination)


def _vlr_spans(head: bytes) -> list[tuple[bytes, int, int, int]]:
    """(user id, record id, start, end) of every VLR, header included, of a LAS file's first bytes."""
    header_size = int.from_bytes(head[94:96], "little")
    count = int.from_bytes(head[100:104], "little")
    spans, start = [], header_size
    for _ in range(count):
        if start + _VLR_HEADER > len(head):
            break
        user_id = head[start + 2 : start + 18].rstrip(b"\0")
        record_id = int.from_bytes(head[start + 18 : start + 20], "little")
        end = start + _VLR_HEADER + int.from_bytes(head[start + 20 : start + 22], "little")
        spans.append((user_id, record_id, start, end))
        start = end
    return spans


def _restore_source_bytes(source: Path, destination: Path) -> None:
    """Put back the source's bytes where laspy re-serialised the same content differently: the
    creation day and year (laspy turns them into a date and back, which moves day 0, "unknown",
    and shifts others by one) and every VLR laspy rewrote at the same size (the extra-bytes
    description, whose unused fields it normalises). The LAZ description VLR stays laspy's own."""
    head, written = _head_and_vlrs(source), _head_and_vlrs(destination)
    with open(destination, "r+b") as file_out:
        file_out.seek(_CREATION_DATE)
        file_out.write(head[_CREATION_DATE : _CREATION_DATE + 4])
        for (user, record, start, end), (user_out, record_out, start_out, end_out) in zip(
            _vlr_spans(head), _vlr_spans(written)
        ):
            same_place = (user, record, end - start) == (user_out, record_out, end_out - start_out)
            if same_place and (user, record) != _LASZIP_VLR:
                file_out.seek(start_out)
                file_out.write(head[start:end])


def _head_and_vlrs(path: Path) -> bytes:
    """A LAS file's bytes before its point data: the public header and the VLRs."""
    with open(path, "rb") as handle:
        offset = int.from_bytes(handle.read(100)[96:100], "little")  # offset to point data
        handle.seek(0)
        return handle.read(offset)
