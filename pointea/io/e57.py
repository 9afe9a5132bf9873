"""E57 scans (ASTM E2807), the format terrestrial laser scanners export, read with pye57 in chunks.

An E57 file holds one or more scans, each with its own pose (rotation and translation into the
file's common frame) and points in Cartesian or spherical coordinates, some flagged invalid (no
return). Every valid point of every scan is read, ``chunk_points`` at a time, posed into the
common frame, and returned relative to an origin (float64: registered scans are often
georeferenced) that :attr:`PointCloud.origin` holds; colours (0..255 in the file's colour limits)
become [0, 1].

``pip install pye57`` (pointea's ``e57`` extra) provides the reader.

Shape legend: R points in a chunk, C columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pointea.errors import DataError
from pointea.io.selection import KeepAll, KeepRandom, KeptRows

__all__ = ["read_e57_rows", "E57_CHUNK_POINTS"]

E57_CHUNK_POINTS = 1_000_000
_CARTESIAN = ("cartesianX", "cartesianY", "cartesianZ")
_SPHERICAL = ("sphericalRange", "sphericalAzimuth", "sphericalElevation")
_COLOURS = ("colorRed", "colorGreen", "colorBlue")


def _import_pye57(path: Path):
    try:
        import pye57
    except ImportError as error:
        raise DataError(
            f"{path}: reading .e57 files needs pye57 ({error}); install it with `pip install pye57` "
            "(or pointea[e57])"
        ) from None
    return pye57


def _posed(header, xyz: np.ndarray) -> np.ndarray:
    """Points of one scan in the file's common frame.  Shapes: (R, 3) -> (R, 3) float64."""
    if not header.has_pose():
        return xyz
    return xyz @ np.asarray(header.rotation_matrix, dtype=np.float64).T + np.asarray(
        header.translation
    )


def read_e57_rows(
    path: Path, keeper: KeepAll | KeepRandom, chunk_points: int = E57_CHUNK_POINTS
) -> tuple[KeptRows, tuple[str, ...], np.ndarray]:
    """Kept rows of every scan of an ``.e57`` file, their column names and the origin.

    Shapes:
        returns rows (K, C) float64 (x y z, then r g b when every scan has colour), origin (3,) float64
    """
    pye57 = _import_pye57(path)
    from pye57.utils import convert_spherical_to_cartesian

    origin: np.ndarray | None = None
    try:
        e57 = pye57.E57(str(path))
    except Exception as error:  # libe57 raises its own E57Exception types, not OSError
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{path}: not a readable .e57 file ({message})") from None
    try:
        headers = [e57.get_header(index) for index in range(e57.scan_count)]
        if not headers:
            raise DataError(f"{path}: the file holds no scan")
        colour = all(all(c in h.point_fields for c in _COLOURS) for h in headers)
        keeper.expect(
            sum(max(0, int(h.point_count)) for h in headers)
        )  # max_points, before reading
        for number, header in enumerate(headers):
            fields = header.point_fields
            if all(f in fields for f in _CARTESIAN):
                coordinates, invalid = _CARTESIAN, "cartesianInvalidState"
            elif all(f in fields for f in _SPHERICAL):
                coordinates, invalid = _SPHERICAL, "sphericalInvalidState"
            else:
                raise DataError(
                    f"{path}: scan {number} has neither Cartesian nor spherical coordinates"
                )
            wanted = [
                *coordinates,
                *(_COLOURS if colour else ()),
                *((invalid,) if invalid in fields else ()),
            ]
            count = min(chunk_points, max(1, header.point_count))
            data, buffers = e57.make_buffers(wanted, count)
            reader = header.points.reader(buffers)
            try:
                while True:
                    rows = reader.read()
                    if rows == 0:
                        break
                    raw = np.stack([data[f][:rows] for f in coordinates], axis=1).astype(
                        np.float64
                    )  # (R, 3)
                    if coordinates == _SPHERICAL:
                        raw = convert_spherical_to_cartesian(raw)
                    valid = (
                        data[invalid][:rows] == 0 if invalid in data else np.ones(rows, dtype=bool)
                    )
                    xyz = _posed(header, raw[valid])
                    if origin is None and xyz.shape[0]:
                        origin = np.floor(xyz.min(axis=0))  # (3,) whole metres: exact in float64
                    columns = [xyz - (origin if origin is not None else 0.0)]
                    if colour:
                        rgb = np.stack([data[c][:rows] for c in _COLOURS], axis=1)[valid]  # (R, 3)
                        columns.append(rgb / np.float64(255.0))
                    keeper.add(np.concatenate(columns, axis=1))  # (R, C) float64, as every reader
            finally:
                reader.close()
    except DataError:
        raise
    except Exception as error:  # a truncated or corrupt file fails inside libe57
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(f"{path}: not a readable .e57 file ({message})") from None
    finally:
        e57.close()
    if keeper.num_rows == 0:
        raise DataError(f"{path}: the file holds no valid point")
    names = ("x", "y", "z", *(("r", "g", "b") if colour else ()))
    return keeper.finish(), names, origin if origin is not None else np.zeros(3)
