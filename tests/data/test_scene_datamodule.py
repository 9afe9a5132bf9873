"""The scene data module over rooms: the batch contract, whole scenes in file order, splits, skips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pointea.data.s3dis import S3DIS_CLASSES, S3DISDataModule
from pointea.data.synthetic_scenes import RoomSettings, write_synthetic_rooms
from pointea.errors import ConfigError, DataError


@pytest.fixture
def rooms(tmp_path: Path) -> Path:
    return write_synthetic_rooms(tmp_path / "rooms", seed=0, rooms_per_area=1, areas=(1, 2, 5),
                                 settings=RoomSettings(density=120.0))  # fmt: skip


def test_training_batches_follow_the_contract(rooms: Path) -> None:
    data = S3DISDataModule(str(rooms), batch_size=3, num_points=512, crop_size=1.5)
    assert (data.num_classes, data.in_channels, data.ignore_index) == (13, 6, -1)  # before any read
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    assert batch["points"].shape == (3, 512, 3) and batch["points"].dtype == torch.float32
    assert batch["features"].shape == (3, 512, 6) and batch["labels"].shape == (3, 512)
    assert batch["labels"].dtype == torch.int64 and batch["index"].shape == (3,)
    assert 0 <= int(batch["labels"].min()) and int(batch["labels"].max()) < 13
    colours, normalized = batch["features"][..., :3], batch["features"][..., 3:]
    assert (
        colours.min() >= 0
        and colours.max() <= 1
        and normalized.min() >= 0
        and normalized.max() <= 1
    )
    # a 1.5 m block, rotated and scaled by at most 10 %: within 1.5 * 1.1 * sqrt(2) of its centre
    assert float(batch["points"][..., :2].abs().max()) <= 1.5 * 1.1 * 2**0.5 / 2 + 0.05


def test_whole_scenes_are_served_one_per_batch_in_file_order(rooms: Path) -> None:
    data = S3DISDataModule(str(rooms), features=("normalized", "height"))
    data.setup("test")
    (scene,) = data.test_scenes()
    batch = next(iter(data.test_dataloader()))
    coord = np.load(rooms / "Area_5" / "room_1" / "coord.npy")
    segment = np.load(rooms / "Area_5" / "room_1" / "segment.npy")
    assert batch["points"].shape == (1, coord.shape[0], 3) and int(batch["index"]) == 0
    np.testing.assert_array_equal(batch["labels"][0].numpy(), segment)
    expected = (coord - coord.min(axis=0)) / (coord.max(axis=0) - coord.min(axis=0))
    np.testing.assert_allclose(batch["features"][0, :, :3].numpy(), expected, atol=1e-5)
    # served coordinates are the file's, shifted: differences between points are kept exactly
    np.testing.assert_allclose(batch["points"][0].numpy() - batch["points"][0, :1].numpy(),
                               coord - coord[:1], atol=1e-5)  # fmt: skip
    np.testing.assert_allclose(
        batch["features"][0, :, 3].numpy(), coord[:, 2] - coord[:, 2].min(), atol=1e-5
    )
    assert len(scene) == coord.shape[0]


def test_no_features_and_class_weights(rooms: Path) -> None:
    data = S3DISDataModule(
        str(rooms), features=(), class_weighting="log", num_points=256, batch_size=2
    )
    assert data.in_channels == 0
    data.setup("fit")
    assert "features" not in next(iter(data.train_dataloader()))
    weights = data.class_weights
    assert weights.shape == (13,)
    counts = sum(
        np.bincount(np.load(p), minlength=13) for p in (rooms / "Area_1").rglob("segment.npy")
    )
    counts = counts + sum(
        np.bincount(np.load(p), minlength=13) for p in (rooms / "Area_2").rglob("segment.npy")
    )
    rarest, commonest = counts[counts > 0].argmin(), counts[counts > 0].argmax()
    np.testing.assert_array_equal(data.class_counts("train"), counts)
    present = weights[torch.from_numpy(counts > 0)]
    assert present[rarest] > present[commonest]
    assert (weights[torch.from_numpy(counts == 0)] == 0).all()


def test_splits_empty_rooms_and_bad_options(rooms: Path, tmp_path: Path, caplog) -> None:
    with pytest.raises(DataError, match="test_area=3"):
        data = S3DISDataModule(str(rooms), test_area=3)
        data.setup("test")
    empty = rooms / "Area_1" / "room_2"
    empty.mkdir()
    for name, array in (("coord", np.empty((0, 3), np.float32)), ("color", np.empty((0, 3), np.uint8)),
                        ("segment", np.empty(0, np.int16))):  # fmt: skip
        np.save(empty / f"{name}.npy", array)
    data = S3DISDataModule(str(rooms), num_points=256, batch_size=2)
    data.setup("fit")
    assert data.skipped == [("train", "Area_1/room_2", "no points")]
    assert "room_2 skipped from train: no points" in caplog.text
    assert [scene.name for scene in data.scenes["train"]] == ["Area_1/room_1", "Area_2/room_1"]
    with pytest.raises(DataError, match="no S3DIS layout found"):
        S3DISDataModule(str(tmp_path / "nothing")).setup("fit")
    with pytest.raises(ConfigError, match="unknown scene feature 'rgb'"):
        S3DISDataModule(str(rooms), features=("rgb",))
    with pytest.raises(ConfigError, match="layout"):
        S3DISDataModule(str(rooms), layout="las")
    with pytest.raises(ConfigError, match="test_area 5 is also in train_areas"):
        S3DISDataModule(str(rooms), train_areas=(1, 5))
    single = S3DISDataModule(str(rooms), num_points=256, batch_size=1, crops_per_epoch=1)
    single.setup("fit")  # one crop of batch 1 would train nothing (a batch of 1 breaks BatchNorm)
    with pytest.raises(DataError, match=r"1 training crops per epoch, fewer than one batch of max\(2, batch_size=1\)"):
        single.train_dataloader()


def test_a_mismatched_room_is_one_line_naming_its_file(rooms: Path) -> None:
    np.save(rooms / "Area_5" / "room_1" / "segment.npy", np.zeros(7, np.int16))
    with pytest.raises(
        DataError, match=r"room_1: coord.npy has \d+ points, color.npy \d+, segment.npy 7"
    ):
        S3DISDataModule(str(rooms)).setup("test")
    np.save(
        rooms / "Area_5" / "room_1" / "segment.npy",
        np.full(len(np.load(rooms / "Area_5/room_1/coord.npy")), 40, np.int16),
    )
    with pytest.raises(DataError, match=r"segment.npy: labels 40..40, expected -1..12"):
        S3DISDataModule(str(rooms)).setup("test")


def test_synthetic_rooms_are_written_on_first_use(tmp_path: Path) -> None:
    data = S3DISDataModule(str(tmp_path / "demo"), synthetic=True, synthetic_rooms_per_area=1,
                           synthetic_density=80.0, num_points=256, batch_size=2)  # fmt: skip
    data.prepare_data()
    data.setup()
    assert len(data.scenes["train"]) == 5 and len(data.test_scenes()) == 1
    assert data.class_names == list(S3DIS_CLASSES)
    assert next(iter(data.val_dataloader()))["points"].shape[0] == 1


def test_crops_repeat_under_a_seed_and_differ_between_epochs_and_workers(rooms: Path) -> None:
    data = S3DISDataModule(
        str(rooms), num_points=128, batch_size=2, crops_per_epoch=4, num_workers=2
    )
    data.setup("fit")

    def epoch() -> list[torch.Tensor]:
        return [batch["points"] for batch in data.train_dataloader()]

    torch.manual_seed(7)
    first, second = epoch(), epoch()
    torch.manual_seed(7)
    again = epoch()
    assert all(torch.equal(a, b) for a, b in zip(first, again))  # the seed decides every crop
    assert not torch.equal(first[0], second[0])  # a new epoch, new crops
    assert not torch.equal(first[0][0], first[1][0])  # the two workers draw differently


def test_six_fold_and_chosen_train_areas(rooms: Path) -> None:
    from pointea.data.s3dis import six_fold

    folds = six_fold()
    assert [test for _, test in folds] == [1, 2, 3, 4, 5, 6]
    assert all(test not in train and len(train) == 5 for train, test in folds)
    data = S3DISDataModule(str(rooms), test_area=2, train_areas=(1,), num_points=128, batch_size=2)
    data.setup()
    assert [s.name for s in data.scenes["train"]] == ["Area_1/room_1"]
    assert [s.name for s in data.test_scenes()] == ["Area_2/room_1"]
    assert [s.name for s in data.scenes["val"]] == ["Area_2/room_1"]  # S3DIS has no val split


def test_local_height_is_the_same_in_a_crop_and_in_the_whole_scene(tmp_path: Path) -> None:
    from pointea.data.scene import LOCAL_HEIGHT_CELL, Scene, scene_sample

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 40, (20_000, 2))
    ground = 0.5 * xy[:, 0]  # a 50 % slope: 20 m of relief across the scene
    z = ground + np.where(rng.random(20_000) < 0.3, rng.uniform(2, 6, 20_000), 0.0)  # 30 % objects
    points = np.column_stack([xy, z]).astype(np.float32)
    scene = Scene("slope", tmp_path, points, np.zeros(20_000, np.int64))
    whole = scene_sample(scene, slice(None), ("local_height", "height"), -1)
    index = np.flatnonzero(points[:, 0] > 30)  # a crop on the high side
    crop = scene_sample(scene, index, ("local_height", "height"), -1)
    np.testing.assert_allclose(crop["features"][:, 0], whole["features"][index, 0], atol=1e-5)
    local = whole["features"][:, 0]
    on_ground = z == ground
    assert (
        local.min() >= 0 and local[on_ground].max() <= 0.5 * LOCAL_HEIGHT_CELL + 1e-3
    )  # slope x cell
    assert np.median(local[~on_ground]) > np.median(local[on_ground]) + 2  # objects stand out
    assert np.median(whole["features"][z == ground, 1]) > 5  # plain height mistakes the slope


def test_scenes_and_tile_files_load_without_lightning() -> None:
    """Prediction builds its inputs with these: they must not pull in Lightning."""
    import subprocess
    import sys

    code = (
        "import sys, pointea.data.scene, pointea.data.lidar_tiles, pointea.data.crops; "
        "print('pytorch_lightning' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
                            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
