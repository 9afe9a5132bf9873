"""Point tables in text: ``.xyz``, ``.xyzn``, ``.xyzrgb``, ``.pts``, ``.txt``, ``.csv``.

One point per line, columns separated by whitespace or commas (``x y z [nx ny nz] [label]``, see
:mod:`pointea.io.columns` for how columns are named). An optional first line names the columns
(``x,y,z,nx,ny,nz``) or, as in Leica ``.pts`` scans, gives the point count.

Speed: the file is read in binary chunks (64 MiB by default, cut at line ends) and each chunk is
parsed by one call of NumPy's C text parser (``np.loadtxt`` on the chunk, NumPy >= 1.23): 3.8 ms of
CPU per 10,000-line ModelNet40 file, 5.1 ms for all of ``read_points`` with its checks, against 22
ms for a Python ``float()`` loop (``docs/bench/text_reader.md``). Only when a chunk does not parse
cleanly (a bad token, a line with another column count, blank lines) is it walked line by line, to
name the line. Every row is checked (NaN/Inf, label values) with its line number before
:mod:`pointea.io.selection` keeps it or not, so a 100-million-point file streams through in bounded
memory and a broken row is found wherever it is.

Bounds (:mod:`pointea.io.bounds`): numbers are parsed in float64 (coordinates are centred before
any cast, see :mod:`pointea.io.columns`); a first data line with more than ``max_columns`` columns,
a line longer than ``chunk_bytes``, a coordinate beyond ``max_coordinate`` and a label that is not
an exact integer within ``LABEL_LIMIT`` (and ``label_range``) are refused with their line number,
so memory never depends on what one line declares.

Shape legend: R rows in a chunk, C columns.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pointea.errors import DataError
from pointea.io.bounds import DEFAULT_MAX_COLUMNS, LABEL_LIMIT, MAX_COORDINATE, check_magnitude
from pointea.io.columns import check_columns, default_columns, header_columns
from pointea.io.selection import KeepAll, KeepRandom, KeptRows

__all__ = [
    "TEXT_EXTENSIONS",
    "read_text_rows",
    "read_label_file",
    "stream_rows",
    "DEFAULT_CHUNK_BYTES",
]

TEXT_EXTENSIONS = (".xyz", ".xyzn", ".xyzrgb", ".pts", ".txt", ".csv")
DEFAULT_CHUNK_BYTES = 64 << 20
_BINARY_PROBE = 4096


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _line_chunks(
    path: Path, stream: BinaryIO, head: bytes, chunk_bytes: int, first_line: int
) -> Iterator[bytes]:
    """Blocks of whole lines: ``head`` and then the rest of ``stream``, cut after a newline.

    A line longer than ``chunk_bytes`` (and 64 KiB) is refused: no line of a point table is that long.
    """
    tail = head
    line = first_line
    while True:
        block = stream.read(chunk_bytes)
        if not block:
            if tail.strip():
                yield tail
            return
        block = tail + block
        cut = block.rfind(b"\n") + 1
        if cut == 0:  # one line longer than a chunk
            if len(block) > max(chunk_bytes, 1 << 16):
                raise DataError(
                    f"{path}: line {line}: longer than {max(chunk_bytes, 1 << 16):,} bytes, "
                    "expected one point per line"
                )
            tail = block
            continue
        yield block[:cut]
        line += block.count(b"\n", 0, cut)
        tail = block[cut:]


def _skip_blank(head: bytes, skipped: int) -> tuple[int, bytes]:
    """Drop leading blank lines from ``head``; return the new count of skipped lines and the rest."""
    while head and not head.partition(b"\n")[0].strip():
        head = head.partition(b"\n")[2]
        skipped += 1
    return skipped, head


def _split(line: bytes) -> list[bytes]:
    return line.replace(b",", b" ").split()


class _TextTable:
    """Parses one file's chunks into (R, C) float64 rows, naming the line of any problem."""

    def __init__(
        self,
        path: Path,
        num_columns: int,
        used: np.ndarray,
        label_column: int | None,
        label_range: tuple[int, int] | None,
        comma: bool = False,
        coordinates: tuple[int, ...] = (),
        max_coordinate: float = MAX_COORDINATE,
    ) -> None:
        self.path = path
        self.num_columns = num_columns
        self.used = used  # (C,) bool: columns that must be finite
        self.label_column = label_column
        self.label_range = label_range
        self.delimiter = "," if comma else None  # None: any whitespace
        self.coordinates = list(coordinates)  # the x y z columns
        self.max_coordinate = max_coordinate

    def parse(self, chunk: bytes, first_line: int, num_lines: int) -> np.ndarray:
        """Rows of one chunk of ``num_lines`` lines whose first is line ``first_line`` (1-based)."""
        rows = self._fast(chunk)
        if rows is None or rows.shape != (num_lines, self.num_columns):
            # a bad token, a line of another width, or blank lines: line by line
            rows, lines = self._slow(chunk, first_line)
        else:
            lines = None  # row i is line first_line + i
        self._check(rows, lines, first_line)
        return rows

    def _fast(self, chunk: bytes) -> np.ndarray | None:
        """NumPy's C parser on the whole chunk; ``None`` when it does not parse cleanly."""
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "input contained no data" included
            try:
                return np.loadtxt(
                    io.BytesIO(chunk),
                    dtype=np.float64,
                    delimiter=self.delimiter,
                    comments=None,
                    ndmin=2,
                )
            except (ValueError, UserWarning):
                return None

    def _slow(self, chunk: bytes, first_line: int) -> tuple[np.ndarray, np.ndarray]:
        """Line by line: skip blank lines, name the first bad one (rows filled in place)."""
        rows = np.empty((chunk.count(b"\n") + 1, self.num_columns))  # (lines, C) float64
        lines = np.empty(rows.shape[0], dtype=np.int64)
        count = 0
        for offset, line in enumerate(chunk.split(b"\n")):
            tokens = _split(line)
            if not tokens:
                continue
            number = first_line + offset
            if len(tokens) != self.num_columns:
                raise DataError(
                    f"{self.path}: line {number}: {len(tokens)} columns, expected "
                    f"{self.num_columns} like the first data line"
                )
            try:
                rows[count] = [float(token) for token in tokens]
            except ValueError:
                bad = next(token for token in tokens if not _is_number(token))
                raise DataError(
                    f"{self.path}: line {number}: {bad.decode(errors='replace')!r} is not a number"
                ) from None
            lines[count] = number
            count += 1
        return rows[:count], lines[:count]

    def _check(self, rows: np.ndarray, lines: np.ndarray | None, first_line: int) -> None:
        def line_of(row: int) -> int:
            return int(lines[row]) if lines is not None else first_line + row

        if not np.isfinite(rows).all():  # rare: only then look at the used columns row by row
            finite = np.isfinite(rows[:, self.used]).all(axis=1)  # (R,)
            if not finite.all():
                raise DataError(
                    f"{self.path}: line {line_of(np.flatnonzero(~finite)[0])}: NaN/Inf value"
                )
        if self.coordinates:
            coordinates = rows[:, self.coordinates]  # (R, C)
            check_magnitude(self.path, coordinates, self.max_coordinate, lambda row: f"line {line_of(row)}")
        if self.label_column is None:
            return
        labels = rows[:, self.label_column]  # (R,)
        whole = labels == np.round(labels)
        if not whole.all():
            row = np.flatnonzero(~whole)[0]
            raise DataError(
                f"{self.path}: line {line_of(row)}: label {labels[row]} is not an integer"
            )
        huge = np.abs(labels) > LABEL_LIMIT
        if huge.any():
            row = np.flatnonzero(huge)[0]
            raise DataError(
                f"{self.path}: line {line_of(row)}: label {labels[row]:g} is beyond "
                f"+-{LABEL_LIMIT}, expected a class or part number"
            )
        if self.label_range is not None:
            low, high = self.label_range
            outside = (labels < low) | (labels > high)
            if outside.any():
                row = np.flatnonzero(outside)[0]
                raise DataError(
                    f"{self.path}: line {line_of(row)}: label {int(labels[row])} is outside {low}..{high}"
                )


def _read_head(path: Path, stream: BinaryIO, chunk_bytes: int) -> bytes:
    head = stream.read(chunk_bytes)
    if not head.strip():
        raise DataError(f"{path}: empty file, expected one point per line (x y z ...)")
    probe = head[:_BINARY_PROBE]
    if b"\x00" in probe:
        raise DataError(f"{path}: binary data, expected text with one point per line (x y z ...)")
    try:
        probe.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(probe) - 4:  # not just a character cut at the probe's end
            raise DataError(
                f"{path}: not a text file (byte {error.start} is not UTF-8), expected one point "
                "per line (x y z ...)"
            ) from None
    return head


def read_text_rows(
    path: Path,
    keeper: KeepAll | KeepRandom,
    *,
    columns: Sequence[str] | None = None,
    label_range: tuple[int, int] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_columns: int = DEFAULT_MAX_COLUMNS,
    max_coordinate: float = MAX_COORDINATE,
) -> tuple[KeptRows, tuple[str, ...]]:
    """Read a text point table; ``keeper`` keeps all rows or a seeded random subset.

    Args:
        path: the file.
        keeper: see :mod:`pointea.io.selection`.
        columns: names of the columns (overrides a header and the defaults).
        label_range: allowed label values, inclusive.
        chunk_bytes: bytes read at a time (the memory bound of streaming).
        max_columns: refuse a first data line (or header) with more columns than this.
        max_coordinate: refuse coordinates of a larger magnitude (naming the line).

    Returns:
        The kept rows and the column names.
    """
    with open(path, "rb") as stream:
        head = _read_head(path, stream, chunk_bytes)
        skipped, head = _skip_blank(head, 0)  # lines before the data
        line, _, rest = head.partition(b"\n")
        first = _split(line)
        header: tuple[str, ...] | None = None
        counted = False
        if not all(_is_number(token) for token in first):
            header = header_columns([token.decode(errors="replace") for token in first])
        else:
            _, rest_head = _skip_blank(rest, 0)
            second = _split(rest_head.partition(b"\n")[0])
            counted = len(first) == 1 and len(second) >= 3 and float(first[0]).is_integer()
        if header is not None or counted:  # a header line or a Leica-style point count line
            skipped, head = _skip_blank(rest, skipped + 1)
            first = _split(head.partition(b"\n")[0])
        if not first:
            raise DataError(f"{path}: header only, no data lines after line {skipped}")
        width = len(first)
        if max(width, len(header or ())) > max_columns:
            raise DataError(
                f"{path}: line {skipped + 1}: {max(width, len(header or ())):,} columns, more than "
                f"the {max_columns} a point table may have (max_columns)"
            )
        if columns is not None:
            names = check_columns(path, columns, width)
        elif header is not None:
            if len(header) != width:
                raise DataError(
                    f"{path}: the header names {len(header)} columns, line {skipped + 1} has {width}"
                )
            names = check_columns(path, header, width)
        elif width < 3:
            raise DataError(
                f"{path}: line {skipped + 1}: {width} column(s), expected at least x y z"
            )
        elif counted and width == 7 and path.suffix.lower() == ".pts":
            names = ("x", "y", "z", "-", "r", "g", "b")  # Leica: x y z intensity r g b
        else:
            names = default_columns(width, colours=path.suffix.lower() == ".xyzrgb")
        comma = b"," in head.partition(b"\n")[0]
        stream_rows(
            path, stream, head, skipped + 1, names, keeper, label_range, chunk_bytes, comma,
            max_coordinate,
        )  # fmt: skip
    if keeper.num_rows == 0:
        raise DataError(f"{path}: header only, no data lines after line {skipped}")
    return keeper.finish(), names


def stream_rows(
    path: Path,
    stream: BinaryIO,
    head: bytes,
    first_line: int,
    names: tuple[str, ...],
    keeper: KeepAll | KeepRandom,
    label_range: tuple[int, int] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    comma: bool = False,
    max_coordinate: float = MAX_COORDINATE,
) -> None:
    """Parse ``head`` and the rest of ``stream`` as rows of the named columns into ``keeper``.

    ``first_line`` is the file line number of ``head``'s first line (for messages); ``comma``:
    columns are separated by commas (else by whitespace); coordinates beyond ``max_coordinate``
    are refused with their line.
    """
    table = _TextTable(
        path,
        len(names),
        used=np.array([name != "-" for name in names]),
        label_column=names.index("label") if "label" in names else None,
        label_range=label_range,
        comma=comma,
        coordinates=tuple(names.index(axis) for axis in ("x", "y", "z")),
        max_coordinate=max_coordinate,
    )
    line = first_line
    for chunk in _line_chunks(path, stream, head, chunk_bytes, first_line):
        newlines = chunk.count(b"\n")
        rows = table.parse(chunk, line, newlines + (not chunk.endswith(b"\n")))
        if rows.shape[0]:
            keeper.add(rows)
        line += newlines


def read_label_file(path: Path, label_range: tuple[int, int] | None = None) -> np.ndarray:
    """One integer per line (ShapeNetPart's ``.seg`` files), as int64, within ``label_range``.

    Shapes:
        returns (N,) int64
    """
    with open(path, "rb") as stream:
        data = _read_head(path, stream, DEFAULT_CHUNK_BYTES) + stream.read()
    table = _TextTable(path, 1, used=np.array([True]), label_column=0, label_range=label_range)
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    return table.parse(data, 1, lines)[:, 0].astype(np.int64)  # (N, 1) -> (N,)
