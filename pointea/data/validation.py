"""Checks on the arrays of one archive file: shapes, dtypes, value ranges, finiteness.

Each check raises :class:`DataError` naming the file, the dataset key and, for value problems, the
first offending shape, so a broken archive is reported once and precisely. The loaders and
``pointea-data verify`` run the same checks.

Shape legend: M shapes in the file, N points per shape.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pointea.errors import DataError

__all__ = [
    "MAX_ABS_COORDINATE",
    "check_points",
    "check_shape_labels",
    "check_point_labels",
]

#: The largest coordinate magnitude accepted (any unit). The published archives lie in the unit
#: sphere; beyond 1e6 float32 resolves less than 0.1 unit and squared distances (kNN, FPS,
#: normalisation) head towards float32's range (3.4e38 is reached from 1.8e19): such values are
#: nearly always a unit or parsing error. Recentre or rescale such data before use.
MAX_ABS_COORDINATE = 1e6


def check_points(
    path: Path, array: np.ndarray, key: str = "data", max_abs: float = MAX_ABS_COORDINATE
) -> np.ndarray:
    """Validate point coordinates and return them as float32.

    Rejects: wrong rank or channel count, no shapes, empty clouds (no points), non-float dtypes,
    NaN/Inf, coordinates beyond ``max_abs`` in magnitude (checked before the float32 cast, so a
    float64 1e300 is reported as itself), and degenerate clouds whose points all coincide (zero
    padding).

    Shapes:
        array: (M, N, 3) floating; returns (M, N, 3) float32
    """
    if array.ndim != 3 or array.shape[-1] != 3:
        raise DataError(f"{path}: {key!r} has shape {array.shape}, expected (shapes, points, 3)")
    if array.shape[0] == 0:
        raise DataError(f"{path}: {key!r} holds no shapes, expected at least one")
    if array.shape[1] == 0:
        raise DataError(f"{path}: {key!r} has shape {array.shape}: every cloud is empty (0 points)")
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"{path}: {key!r} has dtype {array.dtype}, expected float32 coordinates")
    finite = np.isfinite(array).all(axis=(1, 2))  # (M,)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise DataError(
            f"{path}: {key!r} has NaN/Inf coordinates in {bad.size} shape(s), first at shape {bad[0]}"
        )
    magnitude = np.abs(array).max(axis=(1, 2)).astype(np.float64)  # (M,) largest |coordinate|
    too_large = magnitude > max_abs
    if too_large.any():
        bad = np.flatnonzero(too_large)
        row = array[bad[0]]  # (N, 3)
        value = float(row.flat[np.abs(row).argmax()])
        raise DataError(
            f"{path}: {key!r} row {bad[0]} (a shape) holds coordinate {value:.4g}, "
            f"beyond the allowed bound |x| <= {max_abs:g}; {bad.size} shape(s) affected "
            "(recentre or rescale the data)"
        )
    points = array.astype(np.float32, copy=False)
    extent = np.ptp(points, axis=1).max(axis=-1)  # (M,)
    if (extent == 0).any():
        bad = np.flatnonzero(extent == 0)
        raise DataError(
            f"{path}: {key!r} shape {bad[0]} is an empty cloud (all {points.shape[1]} points "
            f"coincide, e.g. zero padding); {bad.size} such shape(s)"
        )
    return points


def check_shape_labels(
    path: Path, array: np.ndarray, key: str, num_shapes: int, num_values: int, values_from: str = ""
) -> np.ndarray:
    """Validate one integer label per shape (``(M, 1)`` as published, or ``(M,)``); return int64.

    ``values_from`` says where ``num_values`` comes from (e.g. the names file), for the message.

    Shapes:
        array: (M, 1) or (M,) integer; returns (M,) int64
    """
    if array.shape not in {(num_shapes, 1), (num_shapes,)}:
        raise DataError(
            f"{path}: {key!r} has shape {array.shape}, expected ({num_shapes}, 1) to match 'data'"
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise DataError(f"{path}: {key!r} has dtype {array.dtype}, expected integers (uint8)")
    labels = array.reshape(num_shapes).astype(np.int64)  # (M, 1) -> (M,)
    out_of_range = (labels < 0) | (labels >= num_values)
    if out_of_range.any():
        first = int(np.flatnonzero(out_of_range)[0])
        raise DataError(
            f"{path}: {key!r} of shape {first} is {labels[first]}, expected 0..{num_values - 1}"
            + (f" ({values_from})" if values_from else "")
        )
    return labels


def check_point_labels(
    path: Path, array: np.ndarray, key: str, points_shape: tuple[int, ...], num_values: int
) -> np.ndarray:
    """Validate one integer label per point; return int64.

    Shapes:
        array: (M, N) integer; returns (M, N) int64
    """
    if array.shape != tuple(points_shape[:2]):
        raise DataError(
            f"{path}: {key!r} has shape {array.shape}, expected {tuple(points_shape[:2])} "
            "(one label per point of 'data')"
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise DataError(f"{path}: {key!r} has dtype {array.dtype}, expected integers (uint8)")
    labels = array.astype(np.int64)
    out_of_range = ((labels < 0) | (labels >= num_values)).any(axis=1)  # (M,)
    if out_of_range.any():
        first = int(np.flatnonzero(out_of_range)[0])
        bad = labels[first][(labels[first] < 0) | (labels[first] >= num_values)]
        raise DataError(
            f"{path}: {key!r} of shape {first} holds {int(bad[0])}, expected 0..{num_values - 1}"
        )
    return labels
