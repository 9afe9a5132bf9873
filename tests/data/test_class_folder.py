"""ClassFolderDataModule: a folder of the user's own .ply/.off files, its split layouts, and a real
``pointea fit`` on it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from pointea.data import ClassFolderDataModule, DataError
from pointea.data.class_folder import list_class_folder
from pointea.models.checkpoint import read_checkpoint
from pointea.io import ResampledWarning

from .class_folder_files import CLASSES, write_class_folder


def test_holdout_layout_reads_every_file_once(tmp_path: Path) -> None:
    files = write_class_folder(tmp_path)
    module = ClassFolderDataModule(str(tmp_path), num_points=128, batch_size=4, file_points=256)
    assert (
        module.class_names == list(CLASSES) and module.num_classes == 3
    )  # before any file is read
    assert module.listing.layout == "holdout"
    module.prepare_data()
    module.setup("fit")
    train, test = module.train_set, module.test_set
    assert (len(train), len(test)) == (15, 3)  # 20 % of 6 per class, rounded: 1 each
    assert sorted(train.files + test.files) == sorted(files)  # notes.md ignored, nothing twice
    assert np.bincount(test.shape_labels["label"]).tolist() == [1, 1, 1]
    for dataset in (train, test):
        for path, label in zip(dataset.files, dataset.shape_labels["label"]):
            assert path.parent.name == CLASSES[label]
    assert train.points.shape == (15, 256, 3)
    batch = next(iter(module.train_dataloader()))
    assert batch["points"].shape == (4, 128, 3) and batch["label"].dtype == torch.int64
    # the domes are in centimetres, far from the origin: normalised into the unit sphere
    evaluation = next(iter(module.val_dataloader()))
    radius = evaluation["points"].norm(dim=-1).max(dim=-1).values  # (B,)
    assert torch.allclose(radius, torch.ones_like(radius), atol=1e-5)
    # the box meshes were sampled on their surfaces: points of box_00 lie on its six faces
    box = next(i for i, p in enumerate(train.files) if p.suffix == ".off")
    cloud = train.points[box].astype(np.float64)
    low, high = cloud.min(axis=0), cloud.max(axis=0)
    on_face = (np.abs(cloud - low) < 1e-4) | (np.abs(cloud - high) < 1e-4)
    assert on_face.any(axis=1).all()


def test_split_folders_class_split_folders_and_split_lists(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    write_class_folder(flat)
    # root/{train,test}/<class>/
    split = tmp_path / "split"
    for name in CLASSES:
        for part, files in (("train", slice(0, 4)), ("test", slice(4, None))):
            (split / part / name).mkdir(parents=True)
            for path in sorted((flat / name).iterdir())[files]:
                shutil.copy(path, split / part / name)
    listing = list_class_folder(split)
    assert listing.layout == "split_folders" and listing.class_names == CLASSES
    assert (
        len(listing.files["train"]) == 12 and len(listing.files["test"]) == 6
    )  # test/box/notes.md ignored
    # root/<class>/{train,test}/ (Princeton ModelNet style)
    princeton = tmp_path / "princeton"
    for name in CLASSES:
        for part in ("train", "test"):
            shutil.copytree(split / part / name, princeton / name / part)
    listing = list_class_folder(princeton)
    assert listing.layout == "class_split_folders" and len(listing.files["test"]) == 6
    # root/<class>/ + train.txt / test.txt
    (flat / "train.txt").write_text(
        "box/box_00.off\n# a comment\ndome/dome_01.ply\nrod/rod_00.xyz\n"
    )
    (flat / "test.txt").write_text("box/box_01.off\n")
    listing = list_class_folder(flat)
    assert listing.layout == "split_lists"
    assert [(p.name, label) for p, label in listing.files["train"]] == [
        ("box_00.off", 0),
        ("dome_01.ply", 1),
        ("rod_00.xyz", 2),
    ]
    (flat / "test.txt").write_text("box/box_01.off\nbox/box_99.off\n")
    with pytest.raises(DataError, match=r"test\.txt: line 2: box/box_99\.off is not a file under"):
        list_class_folder(flat)
    # an entry that climbs out of the root, even through a class folder, is refused (it was read)
    shutil.copy(flat / "box" / "box_01.off", tmp_path / "outside.off")
    for entry in ("box/../../outside.off", str(tmp_path / "outside.off")):
        (flat / "test.txt").write_text(f"box/box_01.off\n{entry}\n")
        with pytest.raises(DataError, match=r"test\.txt: line 2: .*outside\.off leads outside"):
            list_class_folder(flat)


def test_bad_folders_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing: no such folder"):
        ClassFolderDataModule(str(tmp_path / "missing")).num_classes
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no class folders"):
        list_class_folder(tmp_path / "empty")
    write_class_folder(tmp_path / "data")
    for path in (tmp_path / "data" / "rod").iterdir():
        path.rename(path.with_suffix(".bak"))
    with pytest.raises(DataError, match=r"class 'rod' has no readable files in the train split"):
        list_class_folder(tmp_path / "data")
    bad = tmp_path / "bad"
    write_class_folder(bad)
    (bad / "box" / "box_03.off").write_text("OFF\n3 1 0\n0 0 0\n1 1 1\n2 2 2\n3 0 1 2\n")
    module = ClassFolderDataModule(str(bad), num_points=64, file_points=64, test_fraction=0.5)
    with pytest.raises(DataError, match=r"box_03\.off: the mesh has zero surface area"):
        module.setup("fit")
    with pytest.raises(ValueError, match=r"file_points \(64\) must be >= num_points \(128\)"):
        ClassFolderDataModule(str(bad), num_points=128, file_points=64)


def test_small_files_are_topped_up_and_said_once(tmp_path: Path) -> None:
    write_class_folder(tmp_path, points=100)
    module = ClassFolderDataModule(str(tmp_path), num_points=64, file_points=128)
    with pytest.warns(ResampledWarning) as caught:
        module.setup("fit")
    messages = [str(w.message) for w in caught]
    assert len(messages) == 2  # one line per split, not one per file
    # meshes are sampled to any count; the 5 + 5 dome and rod point files per split are topped up
    assert "(train): 10 of 15 files had fewer than 128 points" in messages[0]
    assert "(test): 2 of 3 files" in messages[1]
    assert module.train_set.points.shape == (15, 128, 3)


def test_pointea_fit_trains_on_a_folder_of_ply_and_off_files(tmp_path: Path) -> None:
    from pointea.training import cli_main
    from tests.training.conftest import tiny_config

    data = tmp_path / "my_shapes"
    write_class_folder(data, per_class=5, points=200)
    config = tiny_config(tmp_path / "config.yaml", "classification", data, tmp_path / "run")
    settings = yaml.safe_load(config.read_text())
    settings["data"] = {
        "class_path": "pointea.data.ClassFolderDataModule",
        "init_args": {"root": str(data), "num_points": 128, "file_points": 256, "batch_size": 4},
    }
    config.write_text(yaml.safe_dump(settings, sort_keys=False))
    cli_main(["fit", "--config", str(config)])
    checkpoint = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert checkpoint["epoch"] == 0 and checkpoint["global_step"] == 3  # 12 training files, batch 4
    # the network's output was linked to the folder's 3 classes
    assert checkpoint["pointea"]["network"]["args"]["num_classes"] == 3
    head = [v for k, v in checkpoint["state_dict"].items() if k.endswith("weight")][-1]
    assert head.shape[0] == 3


def test_a_new_file_changes_no_other_files_points(tmp_path: Path) -> None:
    from pointea.data.class_folder import ClassFolder

    flat = tmp_path / "flat"
    write_class_folder(flat, per_class=3)
    root = tmp_path / "split"
    for name in CLASSES:
        shutil.copytree(flat / name, root / "train" / name)
        shutil.copytree(flat / name, root / "test" / name)
    before = ClassFolder(list_class_folder(root), "train", file_points=128)
    shutil.copy(flat / "box" / "box_00.off", root / "train" / "box" / "box_00a.off")  # sorts second
    after = ClassFolder(list_class_folder(root), "train", file_points=128)
    assert len(after) == len(before) + 1
    for path, points in zip(before.files, before.points):
        assert np.array_equal(after.points[after.files.index(path)], points)
