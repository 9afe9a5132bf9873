"""Fixtures for the training tests: tiny synthetic data sets (written once per session) and tiny
YAML configs in tmp_path that the ``pointea`` CLI runs on 2 CPU cores in seconds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pointea.data import write_synthetic_modelnet40, write_synthetic_shapenetpart
from tests.conftest import TINY_ENCODER

REPO = Path(__file__).resolve().parents[2]
CLASSES = 12  # the synthetic classification set's classes
POINTS = 128


def synthetic_classification(root: Path, num_points: int = POINTS, train_per_class: int = 4, test_per_class: int = 2) -> Path:
    """Write the synthetic classification set (seed 0, :data:`CLASSES` classes) to ``root``; returns it.
    The defaults are the training tests' set: 4 train / 2 test shapes per class (48 / 24)."""
    write_synthetic_modelnet40(
        root, seed=0, train_per_class=train_per_class, test_per_class=test_per_class, num_points=num_points
    )
    return root


@pytest.fixture(scope="session")
def classification_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic classification set, 4 train / 2 test shapes per class (48 / 24)."""
    return synthetic_classification(tmp_path_factory.mktemp("synthetic_modelnet40"))


def synthetic_parts(root: Path) -> Path:
    """Write the synthetic part set (seed 0, 5 categories), 4 train / 2 val / 2 test shapes per
    category, to ``root``; returns it."""
    sizes = dict(train_per_category=4, val_per_category=2, test_per_category=2)
    write_synthetic_shapenetpart(root, seed=0, num_points=POINTS, **sizes)
    return root


@pytest.fixture(scope="session")
def segmentation_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic part set (5 categories), 4 train / 2 val / 2 test shapes per category."""
    return synthetic_parts(tmp_path_factory.mktemp("synthetic_shapenetpart"))


def tiny_config(
    path: Path, task: str, data_root: Path | str, run_dir: Path, attention: str = "external", **trainer: Any
) -> Path:
    """Write a config for a tiny network on ``data_root``; return its path.

    ``task`` is ``"classification"`` or ``"part_segmentation"``; ``trainer`` overrides trainer
    settings (defaults: 1 epoch, CPU, no progress bar).
    """
    encoder = {"class_path": "pointea.PointEncoder", "init_args": {**TINY_ENCODER, "attention": attention}}
    if task == "classification":
        model = {
            "class_path": "pointea.training.PointCloudClassifier",
            "init_args": {"network": {"class_path": "pointea.PCTClassifier",
                                      "init_args": {"hidden_channels": [32], "encoder": encoder}}},
        }  # fmt: skip
        data = {"class_path": "pointea.data.ModelNet40DataModule",
                "init_args": {"root": str(data_root), "num_points": POINTS, "batch_size": 8, "synthetic": True,
                              "synthetic_train_per_class": 4, "synthetic_test_per_class": 2}}  # fmt: skip
    else:
        encoder["init_args"].update(sample_sizes=[], stage_channels=[], pooling="max+mean")
        model = {
            "class_path": "pointea.training.PartSegmentation",
            "init_args": {"network": {"class_path": "pointea.PCTPartSegmenter",
                                      "init_args": {"hidden_channels": [32], "category_channels": 8,
                                                    "encoder": encoder}}},
        }  # fmt: skip
        data = {"class_path": "pointea.data.ShapeNetPartDataModule",
                "init_args": {"root": str(data_root), "num_points": POINTS, "batch_size": 4}}  # fmt: skip
    config = {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": 1, "default_root_dir": str(run_dir),
                    "enable_progress_bar": False, "enable_model_summary": False, "log_every_n_steps": 1,
                    **trainer},
        "model": model,
        "data": data,
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def classification_run(classification_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 2-epoch ``pointea fit`` of a tiny classifier; returns its config path (run dir beside it)."""
    from pointea.training import cli_main

    folder = tmp_path_factory.mktemp("classification_run")
    config = tiny_config(folder / "config.yaml", "classification", classification_root, folder / "run", max_epochs=2)
    cli_main(["fit", "--config", str(config)])
    return config


@pytest.fixture(scope="session")
def segmentation_run(segmentation_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 1-epoch ``pointea fit`` of a tiny part segmenter; returns its config path."""
    from pointea.training import cli_main

    folder = tmp_path_factory.mktemp("segmentation_run")
    config = tiny_config(folder / "config.yaml", "part_segmentation", segmentation_root, folder / "run")
    cli_main(["fit", "--config", str(config)])
    return config
