"""Writing point sets in exactly the two published archive layouts.

The synthetic generator writes through these functions, so the loaders read synthetic and real
data by the same code path; tests use them to build tiny (and deliberately broken) archives.
A folder is written into a temporary sibling and renamed into place, so a reader never sees a
half-written archive.

Shape legend: M shapes, N points per shape.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pointea.data.h5 import write_h5
from pointea.data.modelnet40 import ModelNet40
from pointea.data.shapenetpart import ShapeNetPart

__all__ = ["write_modelnet40_archive", "write_shapenetpart_archive", "DEFAULT_SHAPES_PER_FILE"]

#: The published archives hold 2048 shapes per file.
DEFAULT_SHAPES_PER_FILE = 2048


@contextmanager
def _staged(dest: Path) -> Iterator[Path]:
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


def _write_split(
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


def _write_lines(path: Path, lines: Sequence[str]) -> None:
    path.write_text("".join(f"{line}\n" for line in lines))


def write_modelnet40_archive(
    dest: Path,
    splits: Mapping[str, tuple[np.ndarray, np.ndarray]],
    class_names: Sequence[str],
    shapes_per_file: int = DEFAULT_SHAPES_PER_FILE,
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Write a ModelNet40-layout folder at ``dest`` (e.g. ``root/modelnet40_ply_hdf5_2048``).

    Args:
        dest: the folder to create; it must not exist.
        splits: ``"train"``/``"test"`` -> (points, labels).
        class_names: written to ``shape_names.txt`` in label order.
        shapes_per_file: shapes per ``ply_data_{split}{i}.h5``.
        extra_files: more text files to write (name -> content), e.g. provenance.

    Shapes:
        points: (M, N, 3) float, stored float32; labels: (M,) int, stored (M, 1) uint8
    """
    with _staged(dest) as folder:
        _write_lines(folder / ModelNet40.NAMES_FILE, class_names)
        for split, (points, labels) in splits.items():
            arrays = {
                "data": np.asarray(points, dtype=np.float32),
                "label": np.asarray(labels).astype(np.uint8).reshape(-1, 1),  # (M,) -> (M, 1)
            }
            names = _write_split(folder, split, arrays, shapes_per_file)
            # The published lists carry the authors' relative prefix; keep it.
            listed = [f"data/{ModelNet40.ARCHIVE_DIR}/{name}" for name in names]
            _write_lines(folder / f"{split}_files.txt", listed)
        for name, content in (extra_files or {}).items():
            (folder / name).write_text(content)
    return dest


def write_shapenetpart_archive(
    dest: Path,
    splits: Mapping[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
    shapes_per_file: int = DEFAULT_SHAPES_PER_FILE,
    extra_files: Mapping[str, str] | None = None,
) -> Path:
    """Write a ShapeNetPart-layout folder at ``dest`` (e.g. ``root/shapenet_part_seg_hdf5_data``).

    Args:
        dest: the folder to create; it must not exist.
        splits: ``"train"``/``"val"``/``"test"`` -> (points, categories, parts).
        shapes_per_file: shapes per ``ply_data_{split}{i}.h5``.
        extra_files: more text files to write (name -> content).

    Shapes:
        points: (M, N, 3) float, stored float32; categories: (M,) int, stored (M, 1) uint8;
        parts: (M, N) int, stored uint8
    """
    with _staged(dest) as folder:
        # The published file pairs each name with its ShapeNet synset id; synthetic sets have none.
        _write_lines(
            folder / ShapeNetPart.CATEGORIES_FILE,
            [f"{name}\t{i:08d}" for i, name in enumerate(ShapeNetPart.CATEGORIES)],
        )
        for split, (points, categories, parts) in splits.items():
            arrays = {
                "data": np.asarray(points, dtype=np.float32),
                "label": np.asarray(categories).astype(np.uint8).reshape(-1, 1),  # (M,) -> (M, 1)
                "pid": np.asarray(parts).astype(np.uint8),
            }
            names = _write_split(folder, split, arrays, shapes_per_file)
            _write_lines(folder / f"{split}_hdf5_file_list.txt", names)
        for name, content in (extra_files or {}).items():
            (folder / name).write_text(content)
    return dest
