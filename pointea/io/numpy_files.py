"""Point tables in NumPy files: ``.npy`` (one (N, C) array) and ``.npz`` (named arrays).

``.npy``: columns named as a headerless text table of C columns (see :mod:`pointea.io.columns`).
It is memory-mapped and streamed in chunks, so a huge array is subsampled without loading it.

``.npz`` (read whole, as NumPy loads archives): ``points`` (or ``xyz``/``pos``/``data``), and
optionally ``normals``, ``colours`` (or ``colors``/``rgb``) and ``labels`` (or ``label``/``seg``/
``parts``) with one row per point, as :func:`pointea.io.write_points` writes them; an archive with
a single array reads like a ``.npy``.

Shape legend: N points, C columns, R rows in a chunk.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from pointea.errors import DataError
from pointea.io.columns import check_columns, default_columns
from pointea.io.selection import KeepAll, KeepRandom, KeptRows

__all__ = ["NUMPY_EXTENSIONS", "read_numpy_rows", "NPZ_KEYS"]

NUMPY_EXTENSIONS = (".npy", ".npz")
NPZ_KEYS = {
    "points": ("points", "xyz", "pos", "data", "coords"),
    "normals": ("normals", "normal"),
    "colours": ("colours", "colors", "rgb"),
    "labels": ("labels", "label", "seg", "parts", "classification"),
}
_MAGIC = {".npy": b"\x93NUMPY", ".npz": b"PK"}
_NAMES = {
    "points": ("x", "y", "z"),
    "normals": ("nx", "ny", "nz"),
    "colours": ("r", "g", "b"),
    "labels": ("label",),
}


def _check_table(path: Path, array: np.ndarray, what: str) -> None:
    if array.ndim != 2 or array.shape[1] < 3:
        raise DataError(f"{path}: {what} has shape {array.shape}, expected (points, >= 3 columns)")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise DataError(f"{path}: {what} has dtype {array.dtype}, expected numbers")
    if array.shape[0] == 0:
        raise DataError(f"{path}: {what} holds no points")


def _stream(array: np.ndarray, keeper: KeepAll | KeepRandom, chunk_bytes: int) -> KeptRows:
    rows_per_chunk = max(1, chunk_bytes // max(1, array.shape[1] * array.itemsize))
    for start in range(0, array.shape[0], rows_per_chunk):
        keeper.add(np.asarray(array[start : start + rows_per_chunk], dtype=np.float32))  # (R, C)
    return keeper.finish()


def read_numpy_rows(
    path: Path,
    keeper: KeepAll | KeepRandom,
    *,
    columns: tuple[str, ...] | None = None,
    chunk_bytes: int,
) -> tuple[KeptRows, tuple[str, ...]]:
    """Rows and column names of a ``.npy`` or ``.npz`` file, kept by ``keeper``."""
    with open(path, "rb") as stream:
        magic = stream.read(6)
    if not magic.startswith(_MAGIC[path.suffix.lower()]):
        kind = (
            "a NumPy .npy array" if path.suffix.lower() == ".npy" else "a NumPy .npz (zip) archive"
        )
        raise DataError(
            f"{path}: not {kind}: it does not start with {_MAGIC[path.suffix.lower()]!r}"
        )
    try:
        if path.suffix.lower() == ".npy":
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            _check_table(path, array, "the array")
            names = columns or default_columns(array.shape[1])
            return _stream(array, keeper, chunk_bytes), check_columns(path, names, array.shape[1])
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable NumPy {path.suffix} file ({error})") from None
    if not arrays:
        raise DataError(f"{path}: empty archive, expected a 'points' array")
    if len(arrays) == 1:
        ((key, array),) = arrays.items()
        _check_table(path, array, repr(key))
        names = columns or default_columns(array.shape[1])
        return _stream(array, keeper, chunk_bytes), check_columns(path, names, array.shape[1])
    parts, names = [], []
    for role, keys in NPZ_KEYS.items():
        key = next((k for k in keys if k in arrays), None)
        if key is None:
            if role == "points":
                raise DataError(
                    f"{path}: no points array; expected one of {', '.join(keys)} "
                    f"(found {', '.join(arrays)})"
                )
            continue
        array = arrays[key]
        width = len(_NAMES[role])
        count = parts[0].shape[0] if parts else (array.shape[0] if array.ndim else 0)
        if array.ndim == 0 or array.shape[0] != count or array.size != count * width:
            expected = f"({count}, {width})" if width > 1 else f"({count},)"
            raise DataError(f"{path}: {key!r} has shape {array.shape}, expected {expected}")
        parts.append(array.reshape(count, width))  # (N,) -> (N, 1) for labels
        names.extend(_NAMES[role])
    table = np.concatenate([p.astype(np.float32) for p in parts], axis=1)  # (N, C)
    _check_table(path, table, "the points")
    return _stream(table, keeper, chunk_bytes), check_columns(path, tuple(names), table.shape[1])
