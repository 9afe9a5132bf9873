"""Reading and writing whole HDF5 files safely.

The archives are small enough to read completely (ModelNet40 train: 9840 x 2048 x 3 float32, about
240 MB), so a file is opened with a context manager, every requested dataset is copied into a numpy
array and the file is closed before the function returns. No h5py handle outlives a call, which
makes the datasets built on top safe to share with forked DataLoader workers.

Before a dataset is read, its declared shape and type are checked against what can be true: a
corrupt or hostile header can declare terabytes in a small file, which would otherwise end in a
``MemoryError`` (or an hour of swapping) instead of one line naming the file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from pointea.errors import DataError

__all__ = ["MAX_DATASET_BYTES", "read_h5", "write_h5"]

#: The most bytes one dataset may declare (ModelNet40's largest file holds about 50 MB of points).
MAX_DATASET_BYTES = 8 * 1024**3


def _read_dataset(path: Path, key: str, node: h5py.Dataset, file_bytes: int) -> np.ndarray:
    """Read one dataset after checking its declared size; :class:`DataError` naming it if bad."""
    if node.shape is None:  # an HDF5 "null" dataspace: no shape, no data
        raise DataError(f"{path}: {key!r} is an empty dataset (no dataspace), expected an array")
    declared = node.size * node.dtype.itemsize
    if declared > MAX_DATASET_BYTES:
        raise DataError(
            f"{path}: {key!r} declares shape {node.shape} of {node.dtype} "
            f"({declared / 1024**3:.4g} GiB), more than the {MAX_DATASET_BYTES / 1024**3:g} GiB "
            "allowed per dataset; the file is corrupt or not a point-cloud archive"
        )
    contiguous = node.chunks is None and node.compression is None
    if contiguous and declared > file_bytes:
        raise DataError(
            f"{path}: {key!r} declares shape {node.shape} of {node.dtype} ({declared} bytes), "
            f"but the whole file holds {file_bytes} bytes; it is truncated or corrupt"
        )
    try:
        return np.asarray(node[()])  # scalars (shape ()) come back as arrays too
    except MemoryError as exc:
        raise DataError(
            f"{path}: {key!r} ({declared / 1024**2:.1f} MiB) does not fit in memory"
        ) from exc
    except (TypeError, ValueError) as exc:  # element types numpy cannot hold
        raise DataError(f"{path}: cannot read {key!r} of type {node.dtype} ({exc})") from exc


def read_h5(
    path: Path, required: Sequence[str], optional: Sequence[str] = ()
) -> dict[str, np.ndarray]:
    """Read the named datasets of one HDF5 file into memory.

    Args:
        path: the ``.h5`` file.
        required: dataset names that must exist.
        optional: dataset names read when present.

    Returns:
        name -> array for every required and every present optional dataset.

    Raises:
        DataError: the file is missing, unreadable (truncated or corrupt) or lacks a required
            dataset; the message names the file.
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with h5py.File(path, "r") as handle:
            present = sorted(handle.keys())
            missing = [key for key in required if key not in handle]
            if missing:
                raise DataError(
                    f"{path}: missing dataset(s) {', '.join(map(repr, missing))}; the file has "
                    f"{', '.join(map(repr, present)) or 'no datasets'}, expected "
                    f"{', '.join(map(repr, required))}"
                )
            wanted = [*required, *(key for key in optional if key in handle)]
            arrays = {}
            for key in wanted:
                node = handle[key]
                if not isinstance(node, h5py.Dataset):
                    raise DataError(f"{path}: {key!r} is a {type(node).__name__}, expected a dataset")
                arrays[key] = _read_dataset(path, key, node, path.stat().st_size)
    except (OSError, RuntimeError, KeyError) as exc:  # h5py: truncated or corrupt files, read errors
        raise DataError(
            f"{path}: cannot read this HDF5 file ({exc}); it is truncated or corrupt, fetch it again"
        ) from exc
    return arrays


def write_h5(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as datasets of a new HDF5 file at ``path`` (uncompressed, like the archives)."""
    with h5py.File(path, "w") as handle:
        for key, array in arrays.items():
            handle.create_dataset(key, data=array)
