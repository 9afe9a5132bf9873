"""LAS/LAZ lidar files, read with laspy in chunks.

Coordinates: LAS stores scaled integers around a georeferenced offset (easting/northing in metres,
often 10^5 to 10^7), which float32 cannot hold to the centimetre. So points are returned relative
to the file's header offset, and :attr:`PointCloud.origin` holds that offset (float64): add it back
for the true coordinates. The ASPRS ``classification`` becomes the labels; RGB, when the point
format has it (16-bit in LAS), becomes colours in [0, 1].

``.laz`` (compressed) needs a laspy backend: ``pip install "laspy[lazrs]"`` (pointea's ``las``
extra installs it).

Shape legend: R points in a chunk, C columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pointea.errors import DataError
from pointea.io.selection import KeepAll, KeepRandom, KeptRows

__all__ = ["read_las_rows", "LAS_CHUNK_POINTS"]

LAS_CHUNK_POINTS = 1_000_000


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
    try:
        with laspy.open(path) as reader:
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
                keeper.add(np.stack(columns, axis=1).astype(np.float32))  # (R, C)
    except laspy.errors.LaspyException as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{path}: not a readable {path.suffix} file ({message})") from None
    except (OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable {path.suffix} file ({error})") from None
    if keeper.num_rows == 0:
        raise DataError(f"{path}: the file holds no points")
    names = ("x", "y", "z", *(("r", "g", "b") if colour else ()), "label")
    return keeper.finish(), names, origin
