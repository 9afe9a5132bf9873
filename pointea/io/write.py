"""``write_points``: a point cloud to ``.ply`` (coloured for any viewer) or ``.npz``.

``.ply`` is binary little-endian with ``x y z`` (float32; float64 at the true coordinates when the
cloud has an :attr:`~pointea.io.PointCloud.origin`), ``nx ny nz`` (when there are normals),
``red green blue`` and, when given, ``label`` (int) and ``scalar`` (float) properties. The colour
is, in order of preference: labels through a fixed palette, scalars through viridis, the cloud's
own colours. ``.npz`` holds ``points`` and whichever of ``normals``, ``colours``, ``labels``,
``scalars`` there are. Both read back with :func:`pointea.io.read_points`.

Files are written to a temporary name next to the target and renamed into place
(:func:`pointea.io.atomic.atomic_write`), so a failure never leaves a half-written file nor harms
an earlier one, and they get ordinary permissions (``0o666`` less the umask).

Shape legend: N points.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pointea.errors import DataError
from pointea.io.atomic import atomic_write
from pointea.io.cloud import PointCloud
from pointea.io.palette import label_colours, scalar_colours

__all__ = ["write_points", "WRITE_EXTENSIONS"]

WRITE_EXTENSIONS = (".ply", ".npz")


def _per_point(
    path: Path, name: str, array: np.ndarray | None, count: int, width: int
) -> np.ndarray | None:
    if array is None:
        return None
    array = np.asarray(array)
    expected = (count, width) if width > 1 else (count,)
    if array.shape != expected:
        raise DataError(f"{path}: {name} has shape {array.shape}, expected {expected}")
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise DataError(f"{path}: {name} has NaN/Inf values")
    return array


def write_points(
    path: str | Path,
    cloud: PointCloud | np.ndarray,
    labels: np.ndarray | None = None,
    scalars: np.ndarray | None = None,
    *,
    scalar_range: tuple[float, float] | None = None,
) -> Path:
    """Write points (and their normals, colours, labels, scalars) to ``.ply`` or ``.npz``.

    Args:
        path: the target file; its folder must exist.
        cloud: a :class:`PointCloud`, or bare coordinates.
        labels: one integer per point (default: the cloud's labels); colours the ``.ply``.
        scalars: one value per point; colours the ``.ply`` (viridis) when there are no labels.
        scalar_range: the scalar values mapped to the ends of the colormap (default min, max).

    Returns:
        The path written.

    Shapes:
        cloud: (N, 3) or a cloud of N points; labels: (N,) int; scalars: (N,) float
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in WRITE_EXTENSIONS:
        raise DataError(
            f"{path}: cannot write {suffix or 'files without an extension'}; "
            f"supported: {' '.join(WRITE_EXTENSIONS)}"
        )
    if not path.parent.is_dir():
        raise DataError(f"{path}: the folder {path.parent} does not exist")
    if not isinstance(cloud, PointCloud):
        cloud = PointCloud(points=np.asarray(cloud))
    count = cloud.points.shape[0] if cloud.points.ndim == 2 else -1
    points = _per_point(path, "points", cloud.points, count, 3)
    if count < 1:
        raise DataError(f"{path}: nothing to write, expected points of shape (N, 3) with N >= 1")
    normals = _per_point(path, "normals", cloud.normals, count, 3)
    colours = _per_point(path, "colours", cloud.colours, count, 3)
    labels = _per_point(path, "labels", cloud.labels if labels is None else labels, count, 1)
    scalars = _per_point(path, "scalars", scalars, count, 1)
    if labels is not None and not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: labels have dtype {labels.dtype}, expected integers")
    arrays = {
        # a cloud with an origin (survey coordinates) is written at its true coordinates, in
        # float64, so that it reads back where it was (and is centred again on reading)
        "points": points.astype(np.float32) if cloud.origin is None else cloud.true_points(),
        "normals": normals,
        "colours": colours,
        "labels": labels,
        "scalars": scalars,
    }
    arrays = {key: value for key, value in arrays.items() if value is not None}
    try:
        with atomic_write(path) as handle:
            if suffix == ".npz":
                np.savez(handle, **arrays)
            else:
                _write_ply(handle, arrays, scalar_range)
    except OSError as error:
        raise DataError(
            f"{path}: writing failed ({error.strerror or error}); any earlier file is unchanged"
        ) from None
    return path


def _write_ply(
    handle, arrays: dict[str, np.ndarray], scalar_range: tuple[float, float] | None
) -> None:
    count = arrays["points"].shape[0]
    if "labels" in arrays:
        rgb = label_colours(arrays["labels"])
    elif "scalars" in arrays:
        low, high = scalar_range if scalar_range is not None else (None, None)
        rgb = scalar_colours(arrays["scalars"], low, high)
    elif "colours" in arrays:
        colours = arrays["colours"].astype(np.float64)
        rgb = np.round(np.clip(colours / (255.0 if colours.max() > 1 else 1.0), 0, 1) * 255)
    else:
        rgb = np.full((count, 3), 200)  # light grey
    axis = "<f8" if arrays["points"].dtype == np.float64 else "<f4"
    fields = [("x", axis), ("y", axis), ("z", axis)]
    if "normals" in arrays:
        fields += [("nx", "<f4"), ("ny", "<f4"), ("nz", "<f4")]
    fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    if "labels" in arrays:
        fields.append(("label", "<i4"))
    if "scalars" in arrays:
        fields.append(("scalar", "<f4"))
    table = np.empty(count, dtype=fields)
    table["x"], table["y"], table["z"] = arrays["points"].T
    if "normals" in arrays:
        table["nx"], table["ny"], table["nz"] = arrays["normals"].T
    table["red"], table["green"], table["blue"] = rgb.astype(np.uint8).T
    if "labels" in arrays:
        table["label"] = arrays["labels"]
    if "scalars" in arrays:
        table["scalar"] = arrays["scalars"]
    types = {"<f4": "float", "<f8": "double", "u1": "uchar", "<i4": "int"}
    header = [
        "ply",
        "format binary_little_endian 1.0",
        "comment written by pointea",
        f"element vertex {count}",
        *(f"property {types[kind]} {name}" for name, kind in fields),
        "end_header",
    ]
    handle.write(("\n".join(header) + "\n").encode("ascii"))
    handle.write(table.tobytes())
