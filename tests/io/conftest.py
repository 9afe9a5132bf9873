"""Fixtures for the pointea.io tests: the real files in ``../shared/data`` and tiny published-format
files written in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import missing_real_data


def shared_data() -> Path | None:
    """``shared/data`` beside the repository (or beside a folder above it, for git worktrees)."""
    for parent in Path(__file__).resolve().parents[2:]:
        candidate = parent.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def _real(name: str) -> Path:
    root = shared_data()
    folder = root / name if root is not None else None
    if folder is None or not folder.is_dir():
        missing_real_data(f"real sample {name} not found beside the repository (../shared/data)")
    return folder


@pytest.fixture(scope="session")
def normal_resampled() -> Path:
    """The real ``modelnet40_normal_resampled`` sample folder (24 untouched text files)."""
    return _real("modelnet40_normal_resampled_sample") / "modelnet40_normal_resampled"


@pytest.fixture(scope="session")
def shapenet_v0() -> Path:
    """The real ShapeNetPart v0 sample folder (16 shapes, ``.pts`` + ``.seg``)."""
    return _real("shapenetpart_v0_sample") / "shapenetcore_partanno_segmentation_benchmark_v0"


CUBE_OFF = """OFF
# a unit cube, quads as Princeton's files often have
8 6 0
0 0 0
1 0 0
1 1 0
0 1 0
0 0 1
1 0 1
1 1 1
0 1 1
4 0 1 2 3
4 4 5 6 7
4 0 1 5 4
4 1 2 6 5
4 2 3 7 6
4 3 0 4 7
"""


@pytest.fixture(scope="session")
def lidar_tiles() -> Path:
    """The real LAS/LAZ tiles sample folder (PDAL's and the R lidar packages' test files)."""
    return _real("lidar_tiles_real_sample")
