"""ShapeNetPart's text releases (v0_normal, v0): the real samples, label mapping, bad labels."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pointea.data import ShapeNetPart, ShapeNetPartDataModule
from pointea.data.cli import main
from pointea.data.shapenetpart import V0, V0Normal, shapenetpart_archive
from pointea.errors import DataError
from tests.data.conftest import shared_sample

SKATEBOARD = "04225987/10b81426bea7f98b5e38a8a610bb08f5"


@pytest.fixture
def v0_sample() -> Path:
    return shared_sample("shapenetpart_v0_sample")


@pytest.fixture
def v0_normal_sample() -> Path:
    return shared_sample("shapenetpart_v0_normal_sample")


def test_v0_sample_reports_the_missing_listed_shapes(v0_sample: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError) as raised:
        shapenetpart_archive(v0_sample, "v0", cache_root=tmp_path)
    message = str(raised.value)
    assert (
        "\n" not in message
        and "shuffled_train_file_list.json: 12124 of the 12137 listed shapes" in message
    )
    assert (
        "(first: " in message and "03624134/points/3d2cb9d291ec39dc58a42593b26221da.pts)" in message
    )
    assert not (tmp_path / "pointea_cache").exists() or not any(
        (tmp_path / "pointea_cache").iterdir()
    )


def test_v0_sample_loads_the_shapes_present_with_global_part_ids(
    v0_sample: Path, tmp_path: Path
) -> None:
    module = ShapeNetPartDataModule(
        str(v0_sample), batch_size=3, cache_root=str(tmp_path), missing="skip"
    )
    module.prepare_data()
    module.setup("test")
    test = module.test_set
    assert len(test) == 3 and test.points.shape == (3, 2048, 3)
    batch = next(iter(module.test_dataloader()))
    assert batch["parts"].shape == (3, 2048) and batch["category"].shape == (3,)
    # the val list names none of the 16 shapes present: training (which validates) cannot start
    with pytest.raises(DataError, match="val_hdf5_file_list.txt: the file list is empty"):
        module.setup("fit")
    archive = module._archive()
    train = ShapeNetPart(archive, "train")  # the loader's own checks: parts within the category
    categories = sorted(
        np.concatenate([train.shape_labels["category"], test.shape_labels["category"]])
    )
    assert categories == list(range(16))  # one real shape per category
    # each shape's parts are its category's global ids: v0 label k -> first part + k - 1
    release = V0.find(v0_sample)
    shapes = {s.key: s for s in release.present("train", "skip") + release.present("test", "skip")}
    ids = json.loads((archive / "ply_data_train_0_id2file.json").read_text())
    for row, key in enumerate(ids):
        shape = shapes[key]
        local = np.loadtxt(shape.files[1], dtype=np.int64)
        first = ShapeNetPart.FIRST_PART[shape.category]
        stored = train.point_labels["parts"][row]
        assert set(np.unique(stored)) <= set(np.unique(local) + first - 1)
        assert stored.min() >= first and stored.max() <= ShapeNetPart.LAST_PART[shape.category]
        # 2048 of the shape's own points (all shapes here have more), each with its own label
        source = np.loadtxt(shape.files[0], dtype=np.float32)
        assert source.shape[0] >= 2048
        index_of = {point.tobytes(): i for i, point in enumerate(source)}
        picked = np.array(
            [index_of[point.tobytes()] for point in train.points[row]]
        )  # KeyError: not a source point
        assert len(np.unique(picked)) == 2048  # drawn without replacement
        np.testing.assert_array_equal(stored, local[picked] + first - 1)


def test_v0_and_v0_normal_copies_of_the_skateboard_agree(
    v0_sample: Path, v0_normal_sample: Path
) -> None:
    v0 = V0.find(v0_sample)
    normal = V0Normal.find(v0_normal_sample)
    (old,) = [s for s in v0.present("train", "skip") if s.key == SKATEBOARD]
    (new,) = normal.present("train", "skip")
    assert new.key == SKATEBOARD and old.category == new.category == ShapeNetPart.CATEGORIES.index(
        "Skateboard"
    )
    points_v0, normals_v0, parts_v0 = v0.read(old)
    points, normals, parts = normal.read(new)
    assert normals_v0 is None and points.shape == (2617, 3) == points_v0.shape
    np.testing.assert_array_equal(points, points_v0)
    np.testing.assert_array_equal(parts, parts_v0)  # v0's local 1..3 + 43 = v0_normal's 44..46
    assert sorted(np.unique(parts)) == [44, 45, 46]
    np.testing.assert_allclose(np.linalg.norm(normals, axis=1), 1, atol=2e-3)


def test_v0_normal_sample_through_the_data_module(v0_normal_sample: Path, tmp_path: Path) -> None:
    module = ShapeNetPartDataModule(
        str(v0_normal_sample), cache_root=str(tmp_path), missing="skip", layout="v0_normal"
    )
    module.prepare_data()
    train = ShapeNetPart(module._archive(), "train", module.train_transform)
    assert len(train) == 1 and train.shape_labels["category"].tolist() == [14]  # Skateboard
    item = train[0]
    assert item["points"].shape == (2048, 3) and set(item["parts"].unique().tolist()) == {
        44,
        45,
        46,
    }


def test_verify_reads_both_samples(v0_sample: Path, v0_normal_sample: Path, capsys) -> None:
    assert main(["verify", str(v0_sample), "--missing", "skip"]) == 0
    out = capsys.readouterr().out
    assert "ShapeNetPart v0 layout" in out and "train: 13 of 12137 listed shapes read" in out
    assert (
        "test: 3 of 2874 listed shapes read" in out
        and "val: none of the 1870 listed shapes present" in out
    )
    assert "12124 of the 12137 listed shapes are missing" in out
    assert main(["verify", str(v0_sample)]) == 1  # an incomplete release is a problem by default
    assert "FAILED (3 problem(s))" in capsys.readouterr().out
    assert (
        main(
            [
                "verify",
                str(v0_normal_sample),
                "--missing",
                "skip",
                "--layout",
                "shapenetpart_v0_normal",
            ]
        )
        == 0
    )
    assert (
        "train: 1 of 12137 listed shapes read, 2617..2617 points, 1 categories, 3 parts used"
        in capsys.readouterr().out
    )


def tiny_v0(v0_sample: Path, dest: Path) -> tuple[Path, Path]:
    """A v0 release holding only the real Skateboard, listed in all three splits."""
    source = (
        next(v0_sample.iterdir()) if not (v0_sample / V0.FOLDER).is_dir() else v0_sample / V0.FOLDER
    )
    folder = dest / V0.FOLDER
    (folder / "train_test_split").mkdir(parents=True)
    shutil.copy(source / "synsetoffset2category.txt", folder)
    for kind in ("points", "points_label"):
        shutil.copytree(source / "04225987" / kind, folder / "04225987" / kind)
    for split in ("train", "val", "test"):
        entries = [f"shape_data/{SKATEBOARD}"]
        (folder / "train_test_split" / f"shuffled_{split}_file_list.json").write_text(
            json.dumps(entries)
        )
    return dest, folder / "04225987" / "points_label" / "10b81426bea7f98b5e38a8a610bb08f5.seg"


def test_a_label_outside_the_category_names_file_and_line(v0_sample: Path, tmp_path: Path) -> None:
    root, seg = tiny_v0(v0_sample, tmp_path)
    module = ShapeNetPartDataModule(str(root), batch_size=1)
    module.setup("fit")  # the three splits each hold the Skateboard
    assert len(module.train_set) == len(module.val_set) == 1
    labels = seg.read_text().splitlines()
    labels[6] = "4"  # Skateboard has 3 parts: local ids 1..3
    seg.write_text("\n".join(labels) + "\n")
    with pytest.raises(DataError) as raised:
        shapenetpart_archive(root, "v0")
    message = str(raised.value)
    assert "\n" not in message and str(seg) in message and "line 7" in message
    assert "label 4 is outside 1..3" in message and "Skateboard" in message
    assert main(["verify", str(root)]) == 1


def test_a_v0_normal_label_outside_the_category_names_file_and_line(
    v0_normal_sample: Path, tmp_path: Path
) -> None:
    source = v0_normal_sample / V0Normal.FOLDER
    folder = tmp_path / V0Normal.FOLDER
    shutil.copytree(source, folder)
    path = folder / f"{SKATEBOARD}.txt"
    lines = path.read_text().splitlines()
    words = lines[9].split()
    lines[9] = " ".join(
        [*words[:6], "3.000000"]
    )  # part 3 is an Airplane part, not a Skateboard one
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as raised:
        shapenetpart_archive(tmp_path, "v0_normal", missing="skip")
    message = str(raised.value)
    assert "\n" not in message and str(path) in message and "10" in message
    assert "label 3 is outside 44..46" in message and "Skateboard" in message
