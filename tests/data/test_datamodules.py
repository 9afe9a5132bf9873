"""The LightningDataModules: batch contents, label-space facts before setup, synthetic data, YAML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from jsonargparse import ArgumentParser

from pointea.data import ModelNet40DataModule, ShapeNetPartDataModule
from pointea.data.modelnet40 import write_modelnet40_archive
from pointea.data.modelnet40 import ModelNet40
from pointea.data.shapenetpart import ShapeNetPart
from pointea.data.synthetic import CLASS_NAMES, PART_CATEGORIES
from pointea.errors import DataError


def test_modelnet40_batches_have_the_documented_keys_shapes_and_dtypes(modelnet_root: Path) -> None:
    module = ModelNet40DataModule(str(modelnet_root), num_points=32, batch_size=4)
    assert module.num_classes == 3 and module.class_names == ["alpha", "beta", "gamma"]
    module.prepare_data()
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    assert set(batch) == {"points", "label", "index"}
    assert batch["points"].shape == (4, 32, 3) and batch["points"].dtype == torch.float32
    assert batch["label"].shape == (4,) and batch["label"].dtype == torch.int64
    assert batch["index"].dtype == torch.int64
    assert len(module.train_dataloader()) == 2  # 10 shapes, batch 4, last partial batch dropped
    assert module.val_dataloader().dataset is module.test_dataloader().dataset  # val = test split
    assert len(module.val_dataloader().dataset) == 5


def test_eval_batches_are_deterministic_and_index_maps_back_to_shapes(modelnet_root: Path) -> None:
    module = ModelNet40DataModule(str(modelnet_root), num_points=16, batch_size=2)
    module.setup("test")
    stored = ModelNet40(modelnet_root, "test")
    for loader in (module.test_dataloader(), module.predict_dataloader()):
        for batch in loader:
            for row, index in enumerate(batch["index"].tolist()):
                np.testing.assert_array_equal(batch["points"][row].numpy(), stored.points[index][:16])
                assert batch["label"][row] == stored.shape_labels["label"][index]


def test_training_augmentation_is_reproducible_from_the_torch_seed(modelnet_root: Path) -> None:
    module = ModelNet40DataModule(str(modelnet_root), num_points=16, batch_size=5)
    module.setup("fit")

    def first_batch(seed: int) -> torch.Tensor:
        torch.manual_seed(seed)
        return next(iter(module.train_dataloader()))["points"]

    assert torch.equal(first_batch(1), first_batch(1))
    assert not torch.equal(first_batch(1), first_batch(2))


def test_two_workers_serve_every_shape_with_different_augmentations(tmp_path: Path) -> None:
    # ten identical clouds: any two served items can only differ by their augmentation draws
    cloud = np.random.default_rng(0).uniform(-1, 1, (1, 64, 3))
    same = {split: (np.repeat(cloud, 10, axis=0), np.zeros(10, int)) for split in ("train", "test")}
    write_modelnet40_archive(tmp_path / "modelnet40_ply_hdf5_2048", same, ["only"])
    module = ModelNet40DataModule(str(tmp_path), num_points=16, batch_size=1, num_workers=2)
    module.setup("fit")
    loader = module.train_dataloader()
    epochs = [list(loader) for _ in range(2)]
    del loader  # shut the persistent workers down now
    assert sorted(int(b["index"]) for b in epochs[0]) == list(range(10))
    # batches 0 and 1 are the first items of worker 0 and worker 1: their random streams differ
    assert not torch.equal(epochs[0][0]["points"], epochs[0][1]["points"])
    # and a second epoch draws new augmentations
    assert not torch.equal(epochs[0][0]["points"], epochs[1][0]["points"])


def test_label_space_facts_are_known_before_any_data(tmp_path: Path) -> None:
    missing = ModelNet40DataModule(str(tmp_path / "none"))
    assert missing.num_classes == 40 and missing.class_names[:2] == ["airplane", "bathtub"]
    synthetic = ModelNet40DataModule(str(tmp_path / "none"), synthetic=True)
    assert synthetic.num_classes == len(CLASS_NAMES)
    parts = ShapeNetPartDataModule(str(tmp_path / "none"))
    assert (parts.num_parts, parts.num_categories) == (50, 16)
    assert parts.parts_per_category["Table"] == (47, 48, 49)
    assert not (tmp_path / "none").exists(), "nothing may be written before prepare_data"


def test_missing_data_without_synthetic_fails_in_prepare_data(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="synthetic: true"):
        ModelNet40DataModule(str(tmp_path)).prepare_data()
    with pytest.raises(DataError, match="pointea-data download shapenetpart"):
        ShapeNetPartDataModule(str(tmp_path)).prepare_data()


def test_synthetic_modules_generate_their_data_once(tmp_path: Path) -> None:
    root = tmp_path / "synthetic"
    module = ModelNet40DataModule(str(root), num_points=64, batch_size=8, synthetic=True, seed=5,
                                  synthetic_train_per_class=2, synthetic_test_per_class=1)  # fmt: skip
    module.prepare_data()
    written = (root / "modelnet40_ply_hdf5_2048" / "ply_data_train0.h5").stat().st_mtime_ns
    module.prepare_data()  # present now: not rewritten
    assert (root / "modelnet40_ply_hdf5_2048" / "ply_data_train0.h5").stat().st_mtime_ns == written
    module.setup()
    assert module.num_classes == len(CLASS_NAMES) and len(module.train_set) == 2 * len(CLASS_NAMES)

    parts = ShapeNetPartDataModule(str(root), num_points=256, batch_size=3, synthetic=True,
                                   synthetic_train_per_category=2, synthetic_val_per_category=1,
                                   synthetic_test_per_category=1)  # fmt: skip
    parts.prepare_data()
    parts.setup()
    batch = next(iter(parts.train_dataloader()))
    assert set(batch) == {"points", "category", "parts", "index"}
    assert batch["points"].shape == (3, 256, 3) and batch["parts"].shape == (3, 256)
    assert batch["parts"].dtype == torch.int64 and batch["category"].dtype == torch.int64
    first = torch.from_numpy(ShapeNetPart.FIRST_PART)[batch["category"]][:, None]  # (B, 1)
    last = torch.from_numpy(ShapeNetPart.LAST_PART)[batch["category"]][:, None]
    assert ((batch["parts"] >= first) & (batch["parts"] <= last)).all()
    assert len(parts.val_dataloader().dataset) == len(PART_CATEGORIES)


def test_segmentation_parts_follow_the_points_through_augmentation(shapenet_root: Path) -> None:
    # the fixture labels every point by the sign of x: the label must survive resampling
    module = ShapeNetPartDataModule(str(shapenet_root), num_points=32, batch_size=4, augment="none")
    module.setup("fit")
    batch = next(iter(module.train_dataloader()))
    first = torch.from_numpy(ShapeNetPart.FIRST_PART)[batch["category"]][:, None]
    assert torch.equal(batch["parts"] == first, batch["points"][..., 0] < 0)


def test_trainval_adds_the_val_split_to_training(shapenet_root: Path) -> None:
    module = ShapeNetPartDataModule(str(shapenet_root), num_points=16, batch_size=2, train_split="trainval")
    module.setup("fit")
    assert len(module.train_set) == 8 + 3 and len(module.val_set) == 3


def test_bad_choices_fail_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="augment must be one of"):
        ModelNet40DataModule(str(tmp_path), augment="mixup")
    with pytest.raises(ValueError, match="num_points"):
        ShapeNetPartDataModule(str(tmp_path), num_points=0)
    with pytest.raises(ValueError, match="train_split"):
        ShapeNetPartDataModule(str(tmp_path), train_split="all")


def test_modules_build_from_yaml_like_lightning_cli(tmp_path: Path) -> None:
    parser = ArgumentParser()
    parser.add_class_arguments(ModelNet40DataModule, "data")
    config = yaml.safe_dump({"data": {"root": str(tmp_path), "num_points": 512, "augment": "so3",
                                      "synthetic": True, "seed": 3}})  # fmt: skip
    built = parser.instantiate(parser.parse_string(config)).data
    assert isinstance(built, ModelNet40DataModule)
    assert built.num_points == 512 and built.synthetic and built.num_classes == len(CLASS_NAMES)
    with pytest.raises(SystemExit):  # a value outside the Literal is rejected by the parser
        parser.parse_string(yaml.safe_dump({"data": {"root": "x", "augment": "bogus"}}))


@pytest.mark.parametrize(
    ("module", "argument", "value", "allowed"),
    [
        (ModelNet40DataModule, "num_points", 0, "1..1000000"),
        (ModelNet40DataModule, "num_points", 10**9, "1..1000000"),
        (ModelNet40DataModule, "num_points", True, "1..1000000"),
        (ModelNet40DataModule, "num_points", 12.5, "1..1000000"),
        (ModelNet40DataModule, "batch_size", 0, "1..100000"),
        (ShapeNetPartDataModule, "batch_size", -3, "1..100000"),
        (ModelNet40DataModule, "num_workers", -1, "0..256"),
        (ShapeNetPartDataModule, "num_workers", 10_000, "0..256"),
        (ModelNet40DataModule, "seed", -1, "0..4294967295"),
        (ModelNet40DataModule, "synthetic_train_per_class", 0, "1..10000"),
        (ModelNet40DataModule, "synthetic_test_per_class", 10**6, "1..10000"),
        (ShapeNetPartDataModule, "synthetic_train_per_category", 0, "1..10000"),
        (ShapeNetPartDataModule, "synthetic_val_per_category", -1, "1..10000"),
        (ShapeNetPartDataModule, "synthetic_test_per_category", 10**5, "1..10000"),
    ],
)  # fmt: skip
def test_every_number_is_checked_with_its_name_and_range(tmp_path: Path, module, argument: str, value, allowed: str) -> None:
    with pytest.raises(ValueError) as info:
        module(str(tmp_path), **{argument: value})
    message = str(info.value)
    assert message == f"{module.__name__}: {argument} must be an integer in {allowed}, got {value!r}"
    assert list(tmp_path.iterdir()) == []  # nothing written
