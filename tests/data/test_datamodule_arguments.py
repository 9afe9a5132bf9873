"""Every data module's CLI arguments: the shared options are declared once, in the base classes, and
reach the CLI through each data module's ``**kwargs``, with each data set's own defaults where it
declares one again. The table is the arguments (and defaults) the data modules had when each of
them declared every option itself, so a shared option that stops resolving, or a default that
moves, fails here."""

from __future__ import annotations

import pytest
from jsonargparse import ArgumentParser

import pointea.data as data

SHAPES = {"augment": "pct", "batch_size": 32, "num_points": 1024, "num_workers": 0, "normalize": False, "sampling": "random"}
SCENES = {
    "augment": True, "batch_size": 16, "class_weighting": None, "crop": "pointnet", "crop_shape": "block",
    "crop_size": None, "crops_per_epoch": None, "features": ["color", "normalized"], "grid_size": None,
    "ignore_index": -1, "num_points": None, "num_workers": 0, "seed": 0, "val_mode": "scenes",
}  # fmt: skip
LIDAR = {**SCENES, "crop": "lidar", "features": ["intensity", "height"]}
CACHE = {"cache_root": None, "missing": "error"}

EXPECTED = {
    "ModelNet40DataModule": {
        **SHAPES, **CACHE, "root": None, "layout": "auto", "seed": 0, "synthetic": False,
        "synthetic_test_per_class": 16, "synthetic_train_per_class": 64,
    },
    "ShapeNetPartDataModule": {
        **SHAPES, **CACHE, "root": None, "num_points": 2048, "layout": "auto", "seed": 0, "synthetic": False,
        "synthetic_train_per_category": 100, "synthetic_val_per_category": 20, "synthetic_test_per_category": 20,
        "train_split": "train",
    },
    "ClassFolderDataModule": {
        **SHAPES, "root": None, "normalize": True, "file_points": 2048, "seed": 0, "test_fraction": 0.2,
    },
    "ScanObjectNNDataModule": {**SHAPES, "root": None, "variant": "PB_T50_RS"},
    "NormalsDataModule": {
        **SHAPES, **CACHE, "root": "data/normals", "batch_size": 16, "file_points": 10000, "layout": "auto",
        "seed": 0, "synthetic_per_class": 32, "test_fraction": 0.2, "test_list": "testset_all.txt",
        "train_list": "trainingset_whitenoise.txt",
    },
    "S3DISDataModule": {
        **SCENES, "root": None, "bad_lines": "skip", "cache_root": None, "layout": "auto", "synthetic": False,
        "synthetic_density": 400.0, "synthetic_rooms_per_area": 2, "test_area": 5, "train_areas": None,
    },
    "LidarDataModule": {
        **LIDAR, "root": None, "cache_root": None, "cell": 10.0, "chunk_points": 1_000_000, "class_map": None,
        "max_scene_points": 50_000_000, "synthetic": False, "synthetic_density": 8.0, "synthetic_size": 60.0,
        "synthetic_tiles": 6, "test_files": None, "test_fraction": 0.25, "train_files": None, "val_files": None,
        "val_fraction": 0.0,
    },
    "SemanticKITTIDataModule": {
        **LIDAR, "root": None, "batch_size": 8, "label_config": None, "test_sequences": None,
        "train_sequences": None, "val_sequences": None,
    },
}  # fmt: skip


def _cli_defaults(cls: type) -> tuple[dict[str, object], str]:
    parser = ArgumentParser()
    parser.add_class_arguments(cls, "data")
    defaults = vars(parser.get_defaults().data)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in defaults.items()}, parser.format_help()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_cli_sees_every_option_with_its_default(name: str) -> None:
    defaults, help_text = _cli_defaults(getattr(data, name))
    assert defaults == EXPECTED[name]
    assert "kwargs" not in help_text  # every passed-on option is resolved to its own argument


def test_a_shared_option_documented_in_the_base_is_described_in_every_cli() -> None:
    for name in ("ModelNet40DataModule", "ClassFolderDataModule", "NormalsDataModule"):
        _, help_text = _cli_defaults(getattr(data, name))
        assert "DataLoader worker processes" in " ".join(help_text.split()), name
    _, help_text = _cli_defaults(data.LidarDataModule)
    assert "crops per training batch" in " ".join(help_text.split())


def test_passed_on_options_reach_the_base_and_are_checked_there(tmp_path) -> None:
    module = data.ShapeNetPartDataModule(str(tmp_path), batch_size=3, num_workers=1)
    assert (module.batch_size, module.num_workers, module.num_points) == (3, 1, 2048)
    assert module.hparams["batch_size"] == 3
    with pytest.raises(ValueError, match="ShapeNetPartDataModule: batch_size"):
        data.ShapeNetPartDataModule(str(tmp_path), batch_size=0)
    with pytest.raises(TypeError, match="batch_sise"):
        data.ModelNet40DataModule(str(tmp_path), batch_sise=4)
    scene = data.SemanticKITTIDataModule(str(tmp_path), batch_size=2, seed=7)
    assert (scene.batch_size, scene.seed, scene.crop_preset) == (2, 7, "lidar")
