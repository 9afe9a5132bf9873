"""Point tables in NumPy files: ``.npy`` (one (N, C) array) and ``.npz`` (named arrays).

``.npy``: columns named as a headerless text table of C columns (see :mod:`pointea.io.columns`).
It is memory-mapped and streamed in chunks, so a huge array is subsampled without loading it.

``.npz`` (read whole, as NumPy loads archives): ``points`` (or ``xyz``/``pos``/``data``), and
optionally ``normals``, ``colours`` (or ``colors``/``rgb``) and ``labels`` (or ``label``/``seg``/
``parts``) with one row per point, as :func:`pointea.io.write_points` writes them; an archive with
a single array reads like a ``.npy``.

Bounds (:mod:`pointea.io.bounds`): a ``.npy`` is memory-mapped only once its declared shape fits
the file (NumPy checks) and ``max_columns``/``max_points``; an archive's arrays are read only once
the shapes their headers declare fit ``MAX_ARRAY_BYTES`` and their members' sizes (deflate cannot
expand more than about 1032 times), so a zip bomb fails before it allocates.

Shape legend: N points, C columns, R rows in a chunk.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from pointea.errors import DataError
from pointea.io.bounds import DEFAULT_MAX_COLUMNS, MAX_ARRAY_BYTES, check_declared, parser_errors
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


_DEFLATE_MAX_RATIO = 1100  # deflate's largest expansion is about 1032:1


def _check_table(
    path: Path, array: np.ndarray, what: str, max_columns: int = DEFAULT_MAX_COLUMNS
) -> None:
    if array.ndim != 2 or array.shape[1] < 3:
        raise DataError(f"{path}: {what} has shape {array.shape}, expected (points, >= 3 columns)")
    if array.shape[1] > max_columns:
        raise DataError(
            f"{path}: {what} has {array.shape[1]:,} columns, more than the {max_columns} a point "
            "table may have (max_columns)"
        )
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise DataError(f"{path}: {what} has dtype {array.dtype}, expected numbers")
    if array.shape[0] == 0:
        raise DataError(f"{path}: {what} holds no points")


def _check_archive(path: Path) -> None:
    """Refuse an archive whose arrays declare more bytes than its members or the cap allow."""
    total = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            check_declared(
                path, f"a {info.filename!r} member of {info.file_size:,} bytes",
                info.file_size // _DEFLATE_MAX_RATIO, info.compress_size,
            )  # fmt: skip
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                else:
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
            check_declared(path, f"{info.filename!r} of shape {shape}", nbytes, info.file_size)
            total += nbytes
    if total > MAX_ARRAY_BYTES:
        raise DataError(
            f"{path}: the archive's arrays declare {total:,} bytes, more than the "
            f"{MAX_ARRAY_BYTES:,} (MAX_ARRAY_BYTES) read whole; save a .npy to stream it"
        )


def _stream(array: np.ndarray, keeper: KeepAll | KeepRandom, chunk_bytes: int) -> KeptRows:
    keeper.expect(array.shape[0])
    rows_per_chunk = max(1, chunk_bytes // max(1, array.shape[1] * array.itemsize))
    for start in range(0, array.shape[0], rows_per_chunk):
        keeper.add(np.asarray(array[start : start + rows_per_chunk], dtype=np.float64))  # (R, C)
    return keeper.finish()


def read_numpy_rows(
    path: Path,
    keeper: KeepAll | KeepRandom,
    *,
    columns: tuple[str, ...] | None = None,
    chunk_bytes: int,
    max_columns: int = DEFAULT_MAX_COLUMNS,
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
    with parser_errors(path, f"NumPy {path.suffix} file"):
        if path.suffix.lower() == ".npy":
            array = np.load(path, mmap_mode="r", allow_pickle=False)
            _check_table(path, array, "the array", max_columns)
            names = columns or default_columns(array.shape[1])
            return _stream(array, keeper, chunk_bytes), check_columns(path, names, array.shape[1])
        _check_archive(path)
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    if not arrays:
        raise DataError(f"{path}: empty archive, expected a 'points' array")
    if len(arrays) == 1:
        ((key, array),) = arrays.items()
        _check_table(path, array, repr(key), max_columns)
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
    table = np.concatenate([p.astype(np.float64) for p in parts], axis=1)  # (N, C)
    _check_table(path, table, "the points")
    return _stream(table, keeper, chunk_bytes), check_columns(path, tuple(names), table.shape[1])
