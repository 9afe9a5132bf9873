"""What a reader may believe before it allocates: the caps every reader in :mod:`pointea.io` checks.

A file's header (PLY, PCD, LAS/LAZ, ``.npy``) or its first line (text) declares how much data
follows. No reader allocates for a declared size before checking it against the bytes the file
really has and against a cap, so a crafted or corrupt file costs time and memory in proportion to
its size, never to what it claims, and fails with one :class:`~pointea.errors.DataError` line
naming the file. Every failure of a third-party parser (open3d, laspy, NumPy, zipfile) becomes that
one line too (:func:`parser_errors`).

The caps (module constants; :func:`pointea.io.read_points` takes the first three as keywords):

- ``DEFAULT_MAX_POINTS`` (20,000,000): points (rows, vertices, faces) a file may declare or hold
  when all are kept (``num_points=None``); with ``num_points`` point files stream through in
  bounded memory and only the file's size bounds them.
- ``DEFAULT_MAX_COLUMNS`` (256): columns of a text line, properties of a PLY element, fields of a
  PCD point, columns of a ``.npy`` table. A point with more is not a point table.
- ``MAX_COORDINATE`` (1e18): the largest coordinate magnitude accepted, the float32 limit of
  :func:`pointea.models.encoder.max_coordinate` (squared distances overflow beyond it; a test holds
  the two equal). Refused by the reader with the file (and the line, for text).
- ``LABEL_LIMIT`` (2**31 - 1): labels must be exact integers of magnitude at most this, within a
  caller's ``label_range`` when given.
- ``MAX_ARRAY_BYTES`` (4 GiB): the arrays of one ``.npz`` archive (read whole, as NumPy reads
  archives), as their headers declare them.
- ``LAZ_MAX_RATIO`` (1000) and ``PCD_LZF_MAX_RATIO`` (100): how many times its compressed size a
  compressed LAZ or ``binary_compressed`` PCD point block may declare (LZF cannot expand more than
  about 88 times; real LAZ tiles compress 4 to 10 times).
- ``ORIGIN_RATIO`` (128): coordinates are parsed in float64 and, when their magnitude exceeds
  128 times the cloud's extent (float32 would round them by more than 1/65536 of the extent), moved
  to the centre of their bounding box before the cast to float32; :attr:`PointCloud.origin` keeps
  the offset (:mod:`pointea.io.columns`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pointea.errors import DataError

__all__ = [
    "DEFAULT_MAX_POINTS",
    "DEFAULT_MAX_COLUMNS",
    "MAX_COORDINATE",
    "LABEL_LIMIT",
    "MAX_ARRAY_BYTES",
    "LAZ_MAX_RATIO",
    "PCD_LZF_MAX_RATIO",
    "ORIGIN_RATIO",
    "check_declared",
    "check_count",
    "check_magnitude",
    "parser_errors",
]

DEFAULT_MAX_POINTS = 20_000_000  # 240 MB of float32 xyz: beyond that, ask for num_points
DEFAULT_MAX_COLUMNS = 256
MAX_COORDINATE = 1e18  # pointea.models.encoder.max_coordinate(torch.float32)
LABEL_LIMIT = 2**31 - 1
MAX_ARRAY_BYTES = 4 << 30
LAZ_MAX_RATIO = 1000
PCD_LZF_MAX_RATIO = 100
ORIGIN_RATIO = 128


def check_count(path: Path, what: str, count: int, cap: int, hint: str = "") -> None:
    """A declared count must be at most ``cap`` (``hint`` says how to raise it)."""
    if count > cap:
        raise DataError(f"{path}: declares {count:,} {what}, more than the {cap:,} allowed{hint}")


def check_declared(path: Path, what: str, needed: int, available: int) -> None:
    """A header's declared data (``needed`` bytes at the least) must fit in the bytes the file has."""
    if needed > available:
        raise DataError(
            f"{path}: truncated or corrupt: the header declares {what}, which needs at least "
            f"{needed:,} bytes, the file has {available:,}"
        )


def check_magnitude(
    path: Path,
    coordinates: np.ndarray,
    max_coordinate: float,
    place: Callable[[int], str] | None = None,
    what: str = "coordinate",
) -> None:
    """Coordinates of magnitude beyond ``max_coordinate`` (:data:`MAX_COORDINATE` by default: the
    encoder's limit) are refused, naming the first such row's ``place`` in the file (``"line 4"``,
    ``"row 3"``; none for a mesh's vertices) and ``what`` it is.

    Shapes: coordinates (K, C), C >= 1 (NaN rows must be refused before: they compare false)
    """
    magnitude = np.abs(coordinates).max(axis=1, initial=0)  # (K,)
    beyond = np.flatnonzero(magnitude > max_coordinate)
    if beyond.size:
        first = int(beyond[0])
        where = f" {place(first)}:" if place is not None else ""
        raise DataError(
            f"{path}:{where} {what} of magnitude {magnitude[first]:.3g} beyond {max_coordinate:.0e}, the "
            "largest the encoder accepts (centre and scale the cloud)"
        )


@contextmanager
def parser_errors(path: Path, kind: str) -> Iterator[None]:
    """Any exception of a third-party parser (including ``MemoryError``) as one DataError line.

    ``kind`` names what the file should have been, e.g. ``"PCD file"``. DataErrors pass unchanged.
    """
    try:
        yield
    except DataError:
        raise
    except MemoryError:
        raise DataError(f"{path}: out of memory reading this {kind} (corrupt sizes?)") from None
    except Exception as error:  # noqa: BLE001 - any parser failure is a bad file
        message = str(error).strip().splitlines()
        detail = f"{type(error).__name__}: {message[0][:200]}" if message else type(error).__name__
        raise DataError(f"{path}: not a readable {kind} ({detail})") from None
