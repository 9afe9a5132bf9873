"""Fixtures for the viewer-command tests: tiny training configs of pointea's real modules (written
in tmp_path), and real checkpoints from a very short ``pointea fit`` of each, made once per session.

Classification reads the real ModelNet40 subset (``<repo>/../shared/data/modelnet40_real_subset``)
when it is there, else a small synthetic set in the same layout; part segmentation reads a small
synthetic ShapeNetPart set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import TINY_ENCODER

REAL_SUBSET = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "modelnet40_real_subset"
POINTS = 256


@dataclass(frozen=True)
class Run:
    """A finished ``pointea fit``: its config and the checkpoint it wrote."""

    config: Path
    ckpt: Path


def write_config(path: Path, task: str, data_root: Path, run_dir: Path, attention: str = "external") -> Path:
    """A config of a tiny ``PointCloudClassifier`` (``task="classification"``, ModelNet40 layout)
    or ``PartSegmentation`` (ShapeNetPart layout), in the YAML shape of ``configs/demo*.yaml``."""
    encoder: dict[str, Any] = {"class_path": "pointea.PointEncoder", "init_args": {**TINY_ENCODER, "attention": attention}}
    if task == "classification":
        network = {"class_path": "pointea.PCTClassifier", "init_args": {"hidden_channels": [32], "encoder": encoder}}
        model = {"class_path": "pointea.training.PointCloudClassifier", "init_args": {"network": network}}
        data = {"class_path": "pointea.data.ModelNet40DataModule",
                "init_args": {"root": str(data_root), "num_points": POINTS, "batch_size": 8, "synthetic": True,
                              "synthetic_train_per_class": 2, "synthetic_test_per_class": 2}}  # fmt: skip
    elif task == "segmentation":
        encoder["init_args"].update(sample_sizes=[], stage_channels=[], pooling="max+mean")
        network = {"class_path": "pointea.PCTPartSegmenter",
                   "init_args": {"hidden_channels": [32], "category_channels": 8, "encoder": encoder}}  # fmt: skip
        model = {"class_path": "pointea.training.PartSegmentation", "init_args": {"network": network}}
        data = {"class_path": "pointea.data.ShapeNetPartDataModule",
                "init_args": {"root": str(data_root), "num_points": POINTS, "batch_size": 4, "synthetic": True,
                              "synthetic_train_per_category": 2, "synthetic_val_per_category": 1,
                              "synthetic_test_per_category": 2}}  # fmt: skip
    else:
        raise ValueError(f"write_config: task must be 'classification' or 'segmentation', got {task!r}")
    config = {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "devices": 1, "default_root_dir": str(run_dir),
                    "enable_progress_bar": False, "enable_model_summary": False, "log_every_n_steps": 1},
        "model": model,
        "data": data,
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _fit(config: Path) -> Path:
    """Train for 2 batches and 1 validation batch; return ``last.ckpt``."""
    from pointea.training import cli_main

    cli_main(["fit", "--config", str(config), "--trainer.max_epochs", "1",
              "--trainer.limit_train_batches", "2", "--trainer.limit_val_batches", "1"])  # fmt: skip
    run_dir = Path(yaml.safe_load(config.read_text())["trainer"]["default_root_dir"])
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert ckpt.is_file(), f"pointea fit wrote no {ckpt}"
    return ckpt


@pytest.fixture(scope="session")
def modelnet_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real ModelNet40 subset (40 class names), else a folder the configs fill with the
    synthetic 12-class set (``synthetic: true``)."""
    if (REAL_SUBSET / "shape_names.txt").is_file():
        return REAL_SUBSET
    return tmp_path_factory.mktemp("modelnet40")


@pytest.fixture(scope="session")
def shapenet_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder the configs fill with a small synthetic ShapeNetPart set."""
    return tmp_path_factory.mktemp("shapenetpart")


@pytest.fixture(scope="session")
def classification_run(modelnet_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A tiny external-attention classifier after a very short ``pointea fit``."""
    folder = tmp_path_factory.mktemp("classification_run")
    config = write_config(folder / "config.yaml", "classification", modelnet_root, folder / "run")
    return Run(config, _fit(config))


@pytest.fixture(scope="session")
def segmentation_run(shapenet_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A tiny external-attention part segmenter after a very short ``pointea fit``."""
    folder = tmp_path_factory.mktemp("segmentation_run")
    config = write_config(folder / "config.yaml", "segmentation", shapenet_root, folder / "run")
    return Run(config, _fit(config))


@pytest.fixture(scope="session")
def offset_config(modelnet_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny classifier with PCT's self-attention (never trained: the viewers run it from a seed)."""
    folder = tmp_path_factory.mktemp("offset")
    return write_config(folder / "config.yaml", "classification", modelnet_root, folder / "run", attention="offset")
