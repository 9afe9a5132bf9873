"""Archive storage: HDF5 files read and written safely, archive folders found, file lists read,
and archive folders written whole.

The archives are small enough to read completely (ModelNet40 train: 9840 x 2048 x 3 float32, about
240 MB), so a file is opened with a context manager, every requested dataset is copied into a numpy
array and the file is closed before the function returns. No h5py handle outlives a call, which
makes the datasets built on top safe to share with forked DataLoader workers.

Before a dataset is read, its declared shape and type are checked against what can be true: a
corrupt or hostile header can declare terabytes in a small file, which would otherwise end in a
``MemoryError`` (or an hour of swapping) instead of one line naming the file.

Both published archives describe themselves with small text files next to the ``.h5`` files:
ModelNet40's ``train_files.txt`` lists ``data/modelnet40_ply_hdf5_2048/ply_data_train0.h5`` (a path
relative to the authors' checkout), ShapeNetPart's ``train_hdf5_file_list.txt`` lists bare file
names. Both are resolved by base name inside the archive folder, so the folder can live anywhere.

Writing: a folder is written into a temporary sibling and renamed into place (:func:`staged`), so a
reader never sees a half-written archive; a split is stored as ``ply_data_{split}{i}.h5`` files of
at most 2048 shapes (:func:`write_split`, or :class:`SplitWriter` shape by shape), as published.

Shape legend: M shapes in a file, N points per shape.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

import h5py
import numpy as np

from pointea.errors import DataError

__all__ = [
    "ArchiveLayout",
    "DEFAULT_SHAPES_PER_FILE",
    "MAX_DATASET_BYTES",
    "SplitWriter",
    "find_archive_dir",
    "read_file_list",
    "read_h5",
    "read_lines",
    "staged",
    "write_h5",
    "write_lines",
    "write_split",
]

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


@dataclass(frozen=True)
class ArchiveLayout:
    """Where a published archive's folder sits under a root, and how to say it is missing.

    Args:
        dataset: name in messages, e.g. ``"ModelNet40"``.
        download_name: the archive's name for ``pointea-data download``.
        folder_names: the archive folder's names, preferred first.
        marker: the file that identifies the folder (its names list).
        contents: the rest of what the folder holds, for the error message.
    """

    dataset: str
    download_name: str
    folder_names: tuple[str, ...]
    marker: str
    contents: str

    def find(self, root: str | Path) -> Path | None:
        """The archive folder under ``root``, or ``None`` when there is none."""
        return find_archive_dir(Path(root).expanduser(), self.folder_names, self.marker)

    def locate(self, root: str | Path) -> Path:
        """Like :meth:`find`, but a :class:`DataError` explaining how to get the data when absent."""
        found = self.find(root)
        if found is not None:
            return found
        root = Path(root).expanduser()
        state = "does not exist" if not root.exists() else f"has no {self.marker}"
        places = ", ".join(str(root / name) for name in self.folder_names[1:])
        alternatives = f"{places}, or {root} itself" if places else f"{root} itself"
        raise DataError(
            f"{self.dataset} data not found: {root} {state}. Expected the archive folder at "
            f"{root / self.folder_names[0]} (or {alternatives}) with {self.marker}, {self.contents}. "
            f"Get it with `pointea-data download {self.download_name} --root {root}`, or use the "
            f"synthetic stand-in: `pointea-data synth --root {root}` or `synthetic: true` on the data module."
        )


def find_archive_dir(root: Path, folder_names: Sequence[str], marker: str) -> Path | None:
    """The archive folder under ``root``: ``root`` itself or ``root/<name>``, holding ``marker``.

    ``folder_names`` are tried in order, then each one's own sub-folders of the same names (the
    ShapeNetPart zip unpacks to ``hdf5_data/``, which people often keep inside
    ``shapenet_part_seg_hdf5_data/``). Returns ``None`` when no candidate holds ``marker``.
    """
    candidates = [root, *(root / name for name in folder_names)]
    candidates += [root / outer / inner for outer in folder_names for inner in folder_names]
    for candidate in candidates:
        if (candidate / marker).is_file():
            return candidate
    return None


def read_lines(path: Path) -> list[str]:
    """Non-empty, stripped lines of a small text file; :class:`DataError` naming it when absent."""
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read this text file ({exc})") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_file_list(list_file: Path) -> list[Path]:
    """The ``.h5`` files named in an archive's file list, resolved by base name next to the list.

    Raises:
        DataError: the list is missing or empty, or names a file that does not exist.
    """
    entries = read_lines(list_file)
    if not entries:
        raise DataError(f"{list_file}: the file list is empty, expected one .h5 file name per line")
    files = []
    for entry in entries:
        # Entries may carry the authors' relative prefix, in either separator style.
        base = PureWindowsPath(PurePosixPath(entry).name).name
        resolved = list_file.parent / base
        if not resolved.is_file():
            raise DataError(
                f"{list_file}: lists {entry!r}, but {resolved} does not exist "
                "(the archive is incomplete; fetch it again or run `pointea-data verify` on it)"
            )
        files.append(resolved)
    return files


#: The published archives hold 2048 shapes per file.
DEFAULT_SHAPES_PER_FILE = 2048


@contextmanager
def staged(dest: Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``dest``; renamed to ``dest`` on success, deleted on error."""
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; remove it first")
    dest.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    build.chmod(0o755)  # mkdtemp makes it private; the archive is an ordinary data folder
    try:
        yield build
        build.rename(dest)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise


def write_split(
    folder: Path, split: str, arrays: Mapping[str, np.ndarray], shapes_per_file: int
) -> list[str]:
    """Write ``ply_data_{split}{i}.h5`` files of ``shapes_per_file`` shapes; return their names."""
    count = len(next(iter(arrays.values())))
    names = []
    for i, start in enumerate(range(0, count, shapes_per_file)):
        name = f"ply_data_{split}{i}.h5"
        stop = start + shapes_per_file
        write_h5(folder / name, {key: array[start:stop] for key, array in arrays.items()})
        names.append(name)
    return names


def write_lines(path: Path, lines: Sequence[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


class SplitWriter:
    """Writes one split's shapes as ``ply_data_{split}{i}.h5`` files of ``shapes_per_file``.

    Args:
        folder: the archive folder being built.
        split: the split name in file names (``train``, ``val``, ``test``).
        shapes_per_file: shapes per file (2048, as published).

    Use :meth:`add` for every shape, then :meth:`close`; :attr:`names` lists the files written.
    """

    def __init__(
        self, folder: Path, split: str, shapes_per_file: int = DEFAULT_SHAPES_PER_FILE
    ) -> None:
        self.folder = folder
        self.split = split
        self.shapes_per_file = shapes_per_file
        self.names: list[str] = []
        self.count = 0
        self._rows: dict[str, list[np.ndarray]] = {}
        self._ids: list[str] = []

    def add(self, source: str, arrays: dict[str, np.ndarray]) -> None:
        """One shape: ``source`` names it in the id list; ``arrays`` are its per-shape rows."""
        if self._rows and set(arrays) != set(self._rows):
            raise ValueError(f"{source}: arrays {sorted(arrays)} differ from {sorted(self._rows)}")
        for key, value in arrays.items():
            self._rows.setdefault(key, []).append(value)
        self._ids.append(source)
        self.count += 1
        if len(self._ids) == self.shapes_per_file:
            self._flush()

    def close(self) -> list[str]:
        """Write the last partial file; return the names of all files written."""
        if self._ids:
            self._flush()
        return self.names

    def _flush(self) -> None:
        index = len(self.names)
        name = f"ply_data_{self.split}{index}.h5"
        stacked = {key: np.stack(rows) for key, rows in self._rows.items()}  # M rows -> (M, ...)
        write_h5(self.folder / name, stacked)
        ids_file = self.folder / f"ply_data_{self.split}_{index}_id2file.json"
        ids_file.write_text(json.dumps(self._ids))
        self.names.append(name)
        self._rows, self._ids = {}, []
