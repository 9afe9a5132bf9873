"""Fixtures for the data tests: tiny archives in tmp_path, written in the published layouts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pointea.data.modelnet40 import write_modelnet40_archive
from pointea.data.shapenetpart import write_shapenetpart_archive
from pointea.data.shapenetpart import ShapeNetPart
from tests.conftest import missing_real_data

# ``../shared/data`` beside the repository; a git worktree one level deeper finds it one level up.
_REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = next(
    (p / "shared" / "data" for p in (_REPO.parent, _REPO.parent.parent) if (p / "shared" / "data").is_dir()),
    _REPO.parent / "shared" / "data",
)
REAL_SUBSET = SHARED_DATA / "modelnet40_real_subset"
TINY_CLASSES = ("alpha", "beta", "gamma")


def tiny_clouds(rng: np.random.Generator, shapes: int, points: int) -> np.ndarray:
    """Random clouds inside the unit cube.  Shapes: returns (shapes, points, 3) float32."""
    return rng.uniform(-0.5, 0.5, size=(shapes, points, 3)).astype(np.float32)


@pytest.fixture
def modelnet_root(tmp_path: Path) -> Path:
    """A 3-class ModelNet40-layout archive: 10 train shapes (two files of 6 + 4), 5 test, 64 points."""
    rng = np.random.default_rng(0)
    splits = {
        "train": (tiny_clouds(rng, 10, 64), np.arange(10) % 3),
        "test": (tiny_clouds(rng, 5, 64), np.arange(5) % 3),
    }
    write_modelnet40_archive(tmp_path / "modelnet40_ply_hdf5_2048", splits, TINY_CLASSES, shapes_per_file=6)
    return tmp_path


def part_labels(categories: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Valid part ids: the category's first part for x < 0, its last part otherwise.

    Shapes: categories (M,), points (M, N, 3); returns (M, N) int64
    """
    first = ShapeNetPart.FIRST_PART[categories][:, None]  # (M, 1)
    last = ShapeNetPart.LAST_PART[categories][:, None]
    return np.where(points[..., 0] < 0, first, last)


@pytest.fixture
def shapenet_root(tmp_path: Path) -> Path:
    """A ShapeNetPart-layout archive under the zip's own folder name ``hdf5_data/``: 8/3/4 shapes."""
    rng = np.random.default_rng(1)
    splits = {}
    for split, count in (("train", 8), ("val", 3), ("test", 4)):
        points = tiny_clouds(rng, count, 48)
        categories = np.array([0, 8, 11, 15] * 2)[:count]
        splits[split] = (points, categories, part_labels(categories, points))
    write_shapenetpart_archive(tmp_path / "hdf5_data", splits, shapes_per_file=5)
    return tmp_path


@pytest.fixture
def real_subset() -> Path:
    if not REAL_SUBSET.is_dir():
        missing_real_data(f"real ModelNet40 subset not found at {REAL_SUBSET}")
    return REAL_SUBSET


def shared_sample(name: str) -> Path:
    """A real sample folder of ``../shared/data`` (each has a README with its provenance)."""
    folder = SHARED_DATA / name
    if not folder.is_dir():
        missing_real_data(f"real sample not found at {folder}")
    return folder
