"""Reading and writing whole HDF5 files safely.

The archives are small enough to read completely (ModelNet40 train: 9840 x 2048 x 3 float32, about
240 MB), so a file is opened with a context manager, every requested dataset is copied into a numpy
array and the file is closed before the function returns. No h5py handle outlives a call, which
makes the datasets built on top safe to share with forked DataLoader workers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from pointea.data.errors import DataError

__all__ = ["read_h5", "write_h5"]


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
                arrays[key] = node[()]
    except OSError as exc:  # h5py reports truncated or corrupt files (and read errors) as OSError
        raise DataError(
            f"{path}: cannot read this HDF5 file ({exc}); it is truncated or corrupt, fetch it again"
        ) from exc
    return arrays


def write_h5(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays as datasets of a new HDF5 file at ``path`` (uncompressed, like the archives)."""
    with h5py.File(path, "w") as handle:
        for key, array in arrays.items():
            handle.create_dataset(key, data=array)
