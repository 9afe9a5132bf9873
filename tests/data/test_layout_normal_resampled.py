"""ModelNet40 ``modelnet40_normal_resampled``: the real sample, the one-time cache, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pointea.data import ModelNet40, ModelNet40DataModule
from pointea.data.cli import main
from pointea.data.modelnet40 import NormalResampled, modelnet40_archive
from pointea.data.cache import MANIFEST
from pointea.errors import DataError
from tests.data.conftest import shared_sample

RELEASE = "modelnet40_normal_resampled"


@pytest.fixture
def sample() -> Path:
    return shared_sample("modelnet40_normal_resampled_sample")


def small_release(sample: Path, dest: Path, names: dict[str, list[str]]) -> Path:
    """A copy of some real shapes of the sample with the release's names file and lists."""
    source, folder = sample / RELEASE, dest / RELEASE
    folder.mkdir(parents=True)
    shutil.copy(source / "modelnet40_shape_names.txt", folder)
    for split, shapes in names.items():
        (folder / f"modelnet40_{split}.txt").write_text("".join(f"{n}\n" for n in shapes))
        for name in shapes:
            class_name = name.rsplit("_", 1)[0]
            (folder / class_name).mkdir(exist_ok=True)
            if (source / class_name / f"{name}.txt").is_file():
                shutil.copy(source / class_name / f"{name}.txt", folder / class_name)
    return dest


SMALL = {"train": ["airplane_0001", "bathtub_0001"], "test": ["airplane_0627"]}


def test_real_sample_loads_through_the_data_module(sample: Path, tmp_path: Path) -> None:
    module = ModelNet40DataModule(
        str(sample), num_points=1024, batch_size=4, cache_root=str(tmp_path)
    )
    assert module.num_classes == 40 and module.class_names[:3] == ["airplane", "bathtub", "bed"]
    module.prepare_data()
    module.setup("fit")
    train, test = module.train_set, module.test_set
    assert (len(train), len(test)) == (19, 5)  # the sample's lists: 19 train, 5 test shapes
    train_counts = np.bincount(train.shape_labels["label"], minlength=40)
    assert (
        train_counts[:2].tolist() == [4, 4] and train_counts.sum() == 19
    )  # 4 airplanes, 4 bathtubs
    assert np.bincount(test.shape_labels["label"], minlength=40)[[0, 1, 7]].tolist() == [
        2,
        2,
        1,
    ]  # + car
    # the cache keeps the first 2048 of the 10,000 points, and every row's label names its file
    cache = next((tmp_path / "pointea_cache").iterdir())
    ids = json.loads((cache / "ply_data_train_0_id2file.json").read_text())
    assert ids[0] == "airplane/airplane_0001.txt" and len(ids) == 19
    names = module.class_names
    assert all(
        name.split("/")[0] == names[label] for name, label in zip(ids, train.shape_labels["label"])
    )
    text = np.loadtxt(
        sample / RELEASE / "airplane" / "airplane_0001.txt", delimiter=",", dtype=np.float32
    )
    assert text.shape == (10000, 6)
    np.testing.assert_array_equal(train.points[0], text[:2048, :3])
    stored = ModelNet40.read_file(cache / "ply_data_train0.h5", 40, normals=True)
    np.testing.assert_array_equal(stored.normals[0], text[:2048, 3:])
    assert np.median(np.linalg.norm(stored.normals, axis=-1)) == pytest.approx(1, abs=1e-3)
    assert np.abs(train.points).max() <= 1.0  # the release's shapes sit in the unit sphere
    batch = next(iter(module.train_dataloader()))
    assert batch["points"].shape == (4, 1024, 3) and batch["label"].shape == (4,)
    assert main(["verify", str(cache)]) == 0  # the cache is a complete ModelNet40 HDF5 archive


def test_verify_reads_the_real_sample(sample: Path, capsys) -> None:
    assert main(["verify", str(sample)]) == 0
    out = capsys.readouterr().out
    assert "ModelNet40 normal_resampled layout" in out and "classes: 40" in out
    assert "train: 19 of 19 listed shapes read, 10000..10000 points each" in out
    assert "test: 5 of 5 listed shapes read" in out and "verdict: OK" in out
    assert main(["verify", str(sample), "--layout", "modelnet40_normal_resampled"]) == 0
    capsys.readouterr()
    assert main(["verify", str(sample), "--layout", "modelnet40_off"]) == 1
    assert "no modelnet40_off layout" in capsys.readouterr().out


def test_cache_is_reused_while_unchanged_and_rebuilt_when_a_file_changes(
    sample: Path, tmp_path: Path
) -> None:
    before = small_release(sample, tmp_path / "data", SMALL)
    cache = modelnet40_archive(before, "normal_resampled")
    assert cache == before / "pointea_cache" / "modelnet40_normal_resampled_2048"  # under the root
    stamp = (cache / "ply_data_train0.h5").stat().st_mtime_ns
    root = before.rename(tmp_path / "moved")  # a data root moved with its cache keeps it
    first = root / "pointea_cache" / "modelnet40_normal_resampled_2048"
    h5 = first / "ply_data_train0.h5"
    assert modelnet40_archive(root, "auto") == first and h5.stat().st_mtime_ns == stamp  # reused
    # an edited source file converts again, and the new cache holds the new content
    path = root / RELEASE / "bathtub" / "bathtub_0001.txt"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(["0.5,0.25,0.125,0,0,1", *lines[1:]]) + "\n")
    again = modelnet40_archive(root, "normal_resampled")
    assert again == first and h5.stat().st_mtime_ns != stamp
    np.testing.assert_array_equal(ModelNet40(again, "train").points[1, 0], [0.5, 0.25, 0.125])
    # asking for more points than the cache holds makes a second, larger cache
    bigger = modelnet40_archive(root, "normal_resampled", num_points=4096)
    assert bigger.name == "modelnet40_normal_resampled_4096"
    assert ModelNet40(bigger, "test").points.shape == (1, 4096, 3)


def test_a_bad_file_fails_the_conversion_and_keeps_the_old_cache(
    sample: Path, tmp_path: Path
) -> None:
    root = small_release(sample, tmp_path, SMALL)
    cache = modelnet40_archive(root)
    manifest = (cache / MANIFEST).read_text()
    path = root / RELEASE / "airplane" / "airplane_0627.txt"
    lines = path.read_text().splitlines()
    lines[41] = "0.1,nan,0.3,0,0,1"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"airplane_0627\.txt.*42") as raised:
        modelnet40_archive(root)
    assert "\n" not in str(raised.value)
    assert (cache / MANIFEST).read_text() == manifest  # the old cache is untouched
    assert sorted(p.name for p in cache.parent.iterdir()) == [
        cache.name
    ]  # no temporary folder left


def test_missing_listed_shapes_are_one_line_or_skipped(sample: Path, tmp_path: Path) -> None:
    names = {
        "train": ["airplane_0001", "airplane_0090", "bathtub_0001", "bathtub_0095"],
        "test": ["airplane_0627"],
    }
    root = small_release(sample, tmp_path, names)
    with pytest.raises(DataError) as raised:
        modelnet40_archive(root)
    message = str(raised.value)
    assert (
        "\n" not in message
        and "modelnet40_train.txt: 2 of the 4 listed shapes are missing" in message
    )
    assert "(first: " in message and "airplane/airplane_0090.txt)" in message
    module = ModelNet40DataModule(str(root), num_points=64, batch_size=2, missing="skip")
    module.setup("fit")
    assert len(module.train_set) == 2 and module.train_set.shape_labels["label"].tolist() == [0, 1]


def test_parallel_conversion_equals_the_in_process_one(tmp_path: Path) -> None:
    folder = tmp_path / RELEASE
    (folder / "cone").mkdir(parents=True)
    (folder / "modelnet40_shape_names.txt").write_text("cone\n")
    rng = np.random.default_rng(0)
    names = [
        f"cone_{i:04d}" for i in range(1, 71)
    ]  # 64 or more files in a split use worker processes
    for name in names:
        rows = np.concatenate(
            [rng.uniform(-1, 1, (40, 3)), np.tile([0.0, 0.0, 1.0], (40, 1))], axis=1
        )
        np.savetxt(folder / "cone" / f"{name}.txt", rows, fmt="%.6f", delimiter=",")
    (folder / "modelnet40_train.txt").write_text("".join(f"{n}\n" for n in names[:65]))
    (folder / "modelnet40_test.txt").write_text("".join(f"{n}\n" for n in names[65:]))
    release = NormalResampled(folder)
    serial = release.cache(tmp_path / "serial", num_points=32, workers=0)
    parallel = release.cache(tmp_path / "parallel", num_points=32, workers=2)
    for split, count in (("train", 65), ("test", 5)):
        a, b = ModelNet40(serial, split), ModelNet40(parallel, split)
        assert len(a) == count
        np.testing.assert_array_equal(a.points, b.points)
    # a bad file read by a worker is the same one-line error, and nothing is left half-written
    (folder / "cone" / "cone_0003.txt").write_text("0.1,0.2\n")
    with pytest.raises(DataError, match=r"cone_0003\.txt"):
        release.cache(tmp_path / "broken", num_points=32, workers=2)
    assert not any((tmp_path / "broken" / "pointea_cache").iterdir())


def test_a_short_file_is_repeated_to_fill_and_said_once(tmp_path: Path, caplog) -> None:
    folder = tmp_path / RELEASE
    (folder / "cone").mkdir(parents=True)
    (folder / "modelnet40_shape_names.txt").write_text("cone\n")
    rows = np.concatenate([np.arange(300).reshape(100, 3) / 300, np.tile([0, 0, 1], (100, 1))], 1)
    for name in ("cone_0001", "cone_0002"):
        np.savetxt(folder / "cone" / f"{name}.txt", rows, fmt="%.6f", delimiter=",")
    (folder / "modelnet40_train.txt").write_text("cone_0001\ncone_0002\n")
    (folder / "modelnet40_test.txt").write_text("cone_0001\n")
    with caplog.at_level("WARNING"):
        cache = modelnet40_archive(tmp_path, "normal_resampled")
    points = ModelNet40(cache, "train").points
    assert points.shape == (2, 2048, 3)
    text = np.loadtxt(folder / "cone" / "cone_0001.txt", delimiter=",", dtype=np.float32)
    np.testing.assert_array_equal(points[0], text[np.arange(2048) % 100, :3])  # cyclic repeats
    said = [r.message for r in caplog.records if "fewer than 2048 points" in r.message]
    assert len(said) == 2 and "train: 2 shape(s)" in said[0] and "test: 1 shape(s)" in said[1]


def test_pointea_fit_trains_on_the_real_text_sample(
    sample: Path, tmp_path: Path, monkeypatch
) -> None:
    from pointea.training import cli_main

    monkeypatch.chdir(tmp_path)
    config = f"""
trainer: {{max_epochs: 1, default_root_dir: runs/text, enable_progress_bar: false,
          enable_model_summary: false, logger: false}}
model:
  class_path: pointea.training.PointCloudClassifier
  init_args:
    network:
      class_path: pointea.PCTClassifier
      init_args:
        hidden_channels: [16]
        encoder:
          class_path: pointea.PointEncoder
          init_args: {{sample_sizes: [32, 16], neighbours: 8, channels: 16, num_layers: 1,
                      out_channels: 32}}
data:
  class_path: pointea.data.ModelNet40DataModule
  init_args: {{root: {sample}, layout: normal_resampled, cache_root: {tmp_path}, num_points: 64,
              batch_size: 8}}
"""
    cli_main(["fit", "--config", config])
    assert (tmp_path / "runs" / "text" / "checkpoints" / "last.ckpt").is_file()
    assert (
        tmp_path / "pointea_cache" / "modelnet40_normal_resampled_2048" / "manifest.json"
    ).is_file()


def test_verify_refuses_coordinates_fit_would_refuse(sample: Path, tmp_path: Path, capsys) -> None:
    """A real shape edited to hold 1e30: `pointea-data verify` names the file and line (it passed
    before, and `fit` then refused the cache file it had converted)."""
    root = tmp_path / "root"
    shutil.copytree(sample, root)
    shape = root / RELEASE / "cup" / "cup_0028.txt"
    lines = shape.read_text().splitlines()
    lines[0] = "1e30," + lines[0].split(",", 1)[1]
    shape.write_text("\n".join(lines) + "\n")
    assert main(["verify", str(root)]) != 0
    out = capsys.readouterr().out
    assert f"PROBLEM: {shape}: line 1: coordinate of magnitude 1e+30 beyond 1e+18" in out
    assert "verdict: FAILED" in out
