"""Tiny trained checkpoints (one epoch of the training tests' tiny configs) and real clouds for the
prediction and export tests."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from tests.training.conftest import synthetic_classification, synthetic_parts, tiny_config
from tests.conftest import missing_real_data

REPO = Path(__file__).resolve().parents[2]
#: The shared real data, ``../shared/data`` beside the repository (POINTEA_SHARED_DATA overrides it
#: for checkouts elsewhere, e.g. git worktrees).
SHARED_DATA = Path(os.environ.get("POINTEA_SHARED_DATA", REPO.parent / "shared" / "data"))
MODELNET_TEST = SHARED_DATA / "modelnet40_real_subset" / "ply_data_test0.h5"


def predict(capsys: pytest.CaptureFixture[str], *argv) -> tuple[int, str, str]:
    """Run ``pointea-predict`` in this process: its exit status, stdout and stderr."""
    from pointea.predict.cli import main

    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file (``predictions.csv``), as dicts by column name."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def _fit(tmp_path_factory: pytest.TempPathFactory, task: str, write) -> Path:
    from pointea.training import cli_main

    folder = tmp_path_factory.mktemp(task)
    write(folder / "data")
    config = tiny_config(folder / "config.yaml", task, folder / "data", folder / "run")
    cli_main(["fit", "--config", str(config)])
    return folder / "run" / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="session")
def classifier_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """last.ckpt of one epoch of a tiny classifier on the synthetic 12-class set (128 points)."""
    return _fit(tmp_path_factory, "classification", synthetic_classification)


@pytest.fixture(scope="session")
def segmenter_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """last.ckpt of one epoch of a tiny part segmenter on the synthetic part set (128 points)."""
    return _fit(tmp_path_factory, "part_segmentation", synthetic_parts)


@pytest.fixture(scope="session")
def real_clouds() -> np.ndarray:
    """The first 6 real ModelNet40 test objects, (6, 2048, 3) float32."""
    if not MODELNET_TEST.is_file():
        missing_real_data(f"real ModelNet40 subset not found at {MODELNET_TEST} (set POINTEA_SHARED_DATA)")
    with h5py.File(MODELNET_TEST, "r") as archive:
        return np.asarray(archive["data"][:6], dtype=np.float32)
