"""Column names of point tables, and turning kept rows into a :class:`PointCloud`.

Every point reader (text, NumPy, PLY/PCD, LAS) produces a table of rows with one name per column:
``x y z`` (required), ``nx ny nz`` (normals), ``r g b`` (colours), ``label``, or ``-`` for a
column that is read but not used. Without a header, the number of columns decides:

    3: x y z      4: x y z label      6: x y z nx ny nz      7: x y z nx ny nz label

(``.xyzrgb`` files read ``r g b`` where the others read normals; any other count reads x y z and
ignores the rest, and says so in :attr:`PointCloud.columns`). A header line names the columns
instead (``x,y,z,nx,ny,nz,label``; ``red``/``green``/``blue``, ``normal_x``, ``class`` ... are
understood).

Coordinates arrive in float64 from every reader and are checked (finite, within
``MAX_COORDINATE``) before the cast to float32. When their magnitude is more than
``ORIGIN_RATIO`` (128) times the cloud's extent, as with survey coordinates (a 2 m object at
x = 5,000,000), float32 would round them to a coarse grid: they are first moved to the centre of
their bounding box, and :attr:`PointCloud.origin` (float64) records the offset, so
``cloud.points + cloud.origin`` (:meth:`PointCloud.true_points`) restores them.

Shape legend: K rows, C columns, N points.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pointea.errors import DataError
from pointea.io.bounds import LABEL_LIMIT, MAX_COORDINATE, ORIGIN_RATIO, check_magnitude
from pointea.io.cloud import PointCloud
from pointea.io.selection import KeptRows

__all__ = ["COLUMN_NAMES", "default_columns", "header_columns", "check_columns", "cloud_from_rows"]

COLUMN_NAMES = ("x", "y", "z", "nx", "ny", "nz", "r", "g", "b", "label", "-")
_GROUPS = {"normals": ("nx", "ny", "nz"), "colours": ("r", "g", "b")}
_ALIASES = {
    "normal_x": "nx", "normal_y": "ny", "normal_z": "nz", "n_x": "nx", "n_y": "ny", "n_z": "nz",
    "red": "r", "green": "g", "blue": "b",
    "diffuse_red": "r", "diffuse_green": "g", "diffuse_blue": "b",
    "class": "label", "classification": "label", "labels": "label", "seg": "label",
    "part": "label", "semantic": "label", "semantic_label": "label", "category": "label",
    "scalar_label": "label", "scalar_classification": "label",
}  # fmt: skip


def default_columns(num_columns: int, colours: bool = False) -> tuple[str, ...]:
    """Column names of a headerless table with ``num_columns`` columns (see the module notes)."""
    middle = ("r", "g", "b") if colours else ("nx", "ny", "nz")
    known = {3: (), 4: ("label",), 6: middle, 7: (*middle, "label")}
    extra = known.get(num_columns, ("-",) * (num_columns - 3))
    return ("x", "y", "z", *extra)


def header_columns(names: Sequence[str]) -> tuple[str, ...]:
    """Column names from a header line's words; unknown words become ``-`` (ignored)."""
    out = []
    for name in names:
        word = name.strip().strip("/#\"'").lower()
        word = _ALIASES.get(word, word)
        out.append(word if word in COLUMN_NAMES else "-")
    return tuple(out)


def check_columns(path: Path, columns: Sequence[str], num_columns: int) -> tuple[str, ...]:
    """Validate column names given by a caller or a header against the table's width."""
    columns = tuple(columns)
    unknown = [name for name in columns if name not in COLUMN_NAMES]
    if unknown:
        raise DataError(
            f"{path}: unknown column name(s) {unknown}; expected names from {' '.join(COLUMN_NAMES)}"
        )
    if len(columns) != num_columns:
        raise DataError(
            f"{path}: {len(columns)} column names {' '.join(columns)} for {num_columns} columns"
        )
    for name in ("x", "y", "z"):
        if columns.count(name) != 1:
            raise DataError(f"{path}: columns {' '.join(columns)} need exactly one {name!r}")
    for group in (*_GROUPS.values(), ("label",)):
        counts = {columns.count(name) for name in group}
        if counts not in ({0}, {1}):
            raise DataError(f"{path}: columns {' '.join(columns)}: need all or none of {group}")
    return columns


def _group(values: np.ndarray, columns: tuple[str, ...], names: tuple[str, ...]) -> np.ndarray:
    """The (K, len(names)) float32 sub-table of the named columns."""
    return np.ascontiguousarray(values[:, [columns.index(name) for name in names]], np.float32)


def cloud_from_rows(
    path: Path,
    kept: KeptRows,
    columns: tuple[str, ...],
    *,
    label_range: tuple[int, int] | None = None,
    origin: np.ndarray | None = None,
    max_coordinate: float = MAX_COORDINATE,
) -> PointCloud:
    """Split kept rows into coordinates, normals, colours and labels, checking each.

    Rejects NaN/Inf coordinates or normals, coordinates beyond ``max_coordinate`` (``origin``
    added), non-integer labels, labels outside ``label_range`` (inclusive) and clouds whose points
    all coincide; errors name the file row (``row`` counts data rows from 1; text readers pass
    line numbers themselves before this step). Far-off coordinates are centred (module notes).

    Shapes:
        kept.values: (K, C); origin: (3,) float64, the offset already taken from the values;
        returns points (K, 3) float32 and the rest per point
    """
    values = kept.values
    coordinates = np.asarray(values[:, [columns.index(axis) for axis in "xyz"]], np.float64)
    _check_finite(path, coordinates, kept.indices, "coordinates")
    true = coordinates if origin is None else coordinates + origin  # (K, 3)
    check_magnitude(path, true, max_coordinate, lambda row: f"row {int(kept.indices[row]) + 1}")
    coordinates, origin = _centre_far_off(coordinates, origin)
    points = coordinates.astype(np.float32)  # (K, 3)
    normals = colours = labels = None
    if "nx" in columns:
        normals = _group(values, columns, _GROUPS["normals"])
        _check_finite(path, normals, kept.indices, "normals")
    if "r" in columns:
        colours = _group(values, columns, _GROUPS["colours"])
        _check_finite(path, colours, kept.indices, "colours")
        if colours.size and colours.max() > 1.0:
            colours = colours / np.float32(255.0)  # 0..255 -> [0, 1]
    if "label" in columns:
        raw = values[:, columns.index("label")]  # (K,)
        labels = check_labels(path, raw, kept.indices, label_range)
    if points.shape[0] > 1 and not (points != points[0]).any():
        raise DataError(f"{path}: all {kept.num_rows} points coincide, expected a spread-out cloud")
    return PointCloud(
        points=points,
        normals=normals,
        colours=colours,
        labels=labels,
        path=path,
        columns=columns,
        num_source_points=kept.num_rows,
        resampled=kept.resampled,
        origin=origin,
    )


def _centre_far_off(
    coordinates: np.ndarray, origin: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Coordinates moved to their bounding box centre when float32 could not hold them finely.

    Shapes:
        coordinates: (K, 3) float64; origin: (3,) float64 or None
    """
    if coordinates.shape[0] == 0:
        return coordinates, origin
    low, high = coordinates.min(axis=0), coordinates.max(axis=0)  # (3,) each
    extent = float((high - low).max())
    magnitude = float(np.abs(coordinates).max())
    if not magnitude > ORIGIN_RATIO * extent or extent == 0:
        return coordinates, origin
    centre = (low + high) / 2  # (3,)
    shifted = coordinates - centre  # (K, 3)
    return shifted, centre if origin is None else np.asarray(origin, np.float64) + centre


def _check_finite(path: Path, array: np.ndarray, indices: np.ndarray, what: str) -> None:
    finite = np.isfinite(array).all(axis=1)  # (K,)
    if not finite.all():
        row = int(indices[np.flatnonzero(~finite)[0]]) + 1
        raise DataError(f"{path}: row {row}: NaN/Inf {what}")


def check_labels(
    path: Path, raw: np.ndarray, indices: np.ndarray, label_range: tuple[int, int] | None
) -> np.ndarray:
    """Labels as int64: finite, integer-valued and, with ``label_range``, within it (inclusive).

    Shapes:
        raw: (K,) any numeric dtype; indices: (K,) file rows; returns (K,) int64
    """
    if np.issubdtype(raw.dtype, np.floating):
        whole = np.isfinite(raw) & (raw == np.round(raw))
        if not whole.all():
            first = np.flatnonzero(~whole)[0]
            raise DataError(
                f"{path}: row {int(indices[first]) + 1}: label {raw[first]} is not an integer"
            )
    huge = np.abs(raw.astype(np.float64)) > LABEL_LIMIT  # (K,); exact for every integer dtype here
    if huge.any():
        first = np.flatnonzero(huge)[0]
        raise DataError(
            f"{path}: row {int(indices[first]) + 1}: label {float(raw[first]):g} is beyond "
            f"+-{LABEL_LIMIT}, expected a class or part number"
        )
    labels = raw.astype(np.int64)
    if label_range is not None:
        low, high = label_range
        outside = (labels < low) | (labels > high)
        if outside.any():
            first = np.flatnonzero(outside)[0]
            raise DataError(
                f"{path}: row {int(indices[first]) + 1}: label {labels[first]} is outside "
                f"{low}..{high}"
            )
    return labels
