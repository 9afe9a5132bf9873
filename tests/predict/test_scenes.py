"""``pointea-predict`` with a semantic segmentation checkpoint (one epoch of the scene demo on small
procedural rooms): every input point labelled as ``pointea test`` labels it, ``.ply``/``.npz`` and
per-class counts per file, and for the real LAS/LAZ tiles a copy whose classification holds the
prediction, every other byte as it was."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

from pointea.predict.cli import main
from tests.io.conftest import shared_data
from tests.conftest import missing_real_data
from tests.training.conftest import REPO
from tests.training.test_scene_configs import TINY_ROOMS


@pytest.fixture(scope="module")
def scene_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(last.ckpt, data root) of one epoch of configs/demo_scene.yaml on small rooms, served with
    the normalised room coordinates alone (so any LAS tile, coloured or not, can be predicted)."""
    from pointea.training import cli_main

    folder = tmp_path_factory.mktemp("scene_run")
    root = folder / "rooms"
    cli_main([
        "fit", "--config", str(REPO / "configs" / "demo_scene.yaml"), "--trainer.max_epochs", "1",
        "--trainer.default_root_dir", str(folder / "run"), "--data.init_args.root", str(root),
        "--data.init_args.features", "[normalized]",
        "--model.init_args.network.init_args.encoder.init_args.in_channels", "3", *TINY_ROOMS,
    ])  # fmt: skip
    return folder / "run" / "checkpoints" / "last.ckpt", root


def _room_file(root: Path, folder: Path) -> Path:
    """Area 5's first room as one ``.npz`` of points, colours and labels, as a user would have it."""
    room = sorted((root / "Area_5").iterdir())[0]
    path = folder / "room.npz"
    np.savez(path, points=np.load(room / "coord.npy"), colors=np.load(room / "color.npy"),
             labels=np.load(room / "segment.npy").astype(np.int64))  # fmt: skip
    return path


def test_every_point_of_a_room_is_labelled_as_the_test_loop_labels_it(scene_run, tmp_path: Path) -> None:
    from pointea.data.s3dis import S3DISDataModule
    from pointea.models.checkpoint import read_checkpoint
    from pointea.training.semantic import SemanticSegmentation
    from pointea.models.per_point import PCTSemanticSegmenter

    checkpoint, root = scene_run
    room = _room_file(root, tmp_path)
    out = tmp_path / "out"
    assert main([str(checkpoint), str(room), "--out", str(out)]) == 0
    arrays = np.load(out / "room.classes.npz")
    # the test loop's own prediction of the same whole room
    data = S3DISDataModule(str(root), features=("normalized",))
    data.setup("test")
    sample = data.test_dataloader().dataset[0]
    module = SemanticSegmentation(PCTSemanticSegmenter.from_checkpoint(checkpoint)).eval()
    with torch.inference_mode():
        expected = module.scene_probabilities(sample["points"][None], sample["features"][None])[0].argmax(dim=-1)
    assert arrays["classes"].shape == (sample["points"].shape[0],)
    assert np.array_equal(arrays["classes"], expected.numpy())
    assert np.array_equal(arrays["true_classes"], sample["labels"].numpy())
    assert list(arrays["class_names"][:2]) == ["ceiling", "floor"]
    with open(out / "predictions.csv") as handle:
        (row,) = list(csv.DictReader(handle))
    counts = np.bincount(arrays["classes"], minlength=13)
    assert [int(row[f"class_{i}"]) for i in range(13)] == counts.tolist() and int(row["points"]) == counts.sum()
    assert (out / "room.classes.ply").stat().st_size > 0
    assert read_checkpoint(checkpoint)["pointea"]["task"] == "semantic_segmentation"


def _tiles() -> Path:
    root = shared_data()
    if root is None or not (root / "lidar_tiles_real_sample").is_dir():
        missing_real_data("real sample lidar_tiles_real_sample not found beside the repository (../shared/data)")
    return root / "lidar_tiles_real_sample"


@pytest.mark.parametrize("name", ["autzen_trim.las", "870000_6618000.subset.50mx100m.las", "MixedConifer.laz"])
def test_a_real_tile_comes_back_with_the_prediction_in_its_classification(scene_run, name: str, tmp_path: Path) -> None:
    laspy = pytest.importorskip("laspy")
    source = _tiles() / name
    out = tmp_path / "out"
    assert main([str(scene_run[0]), str(source), "--out", str(out)]) == 0
    copy = out / name  # DIR/<name>.las (or .laz, as the input)
    predicted = np.load(out / f"{source.stem}.classes.npz")["classes"]
    before, after = laspy.read(source), laspy.read(copy)
    assert np.array_equal(np.asarray(after.classification), predicted)  # the prediction, point by point
    for field in before.point_format.dimension_names:
        if field not in ("classification", "raw_classification"):
            assert np.array_equal(np.asarray(before[field]), np.asarray(after[field])), field
    assert np.array_equal(before.header.scales, after.header.scales) and np.array_equal(before.header.offsets, after.header.offsets)
    assert [v.record_id for v in before.header.vlrs] == [v.record_id for v in after.header.vlrs]
    if name.endswith(".las"):
        assert copy.stat().st_size == source.stat().st_size


def test_an_unreadable_scene_is_listed_and_the_others_predicted(scene_run, tmp_path: Path, capsys) -> None:
    checkpoint, root = scene_run
    room = _room_file(root, tmp_path)
    broken = tmp_path / "broken.las"
    broken.write_bytes(b"LASF" + b"\0" * 50)
    assert main([str(checkpoint), str(room), str(broken), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "1 unreadable" in err and "broken.las" in err
    assert (tmp_path / "out" / "room.classes.npz").is_file() and not (tmp_path / "out" / "broken.las").exists()


def _with_class_codes(checkpoint: Path, folder: Path, first_code: int) -> Path:
    """The scene checkpoint as a lidar one: a class map writing class k as ASPRS code first_code + k."""
    record = torch.load(checkpoint, map_location="cpu", weights_only=False)
    names = record["pointea"]["labels"]["classes"]
    record["pointea"]["preprocessing"]["class_map"] = {
        "classes": {name: [first_code + k] for k, name in enumerate(names)}, "ignore": [],
    }  # fmt: skip
    path = folder / "lidar.ckpt"
    torch.save(record, path)
    return path


def test_a_class_code_the_point_format_cannot_hold_leaves_nothing_of_the_file(scene_run, tmp_path: Path, capsys) -> None:
    """Point formats 0-5 hold codes 0..31: the demo's 'car' (64) on a LAS 1.2 tile was refused only by
    the LAS writer, after the file's .classes.ply/.npz were written (left behind, listed nowhere)."""
    checkpoint = _with_class_codes(scene_run[0], tmp_path, 64)
    tile = _tiles() / "mvk-thin.las"  # point format 1
    out = tmp_path / "out"
    assert main([str(checkpoint), str(tile), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    (line,) = [line for line in err.splitlines() if "mvk-thin.las:" in line]
    assert "point format 1 (LAS 1." in line and "holds class codes 0..31 only" in line and "code 6" in line
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["predictions.csv", "predictions.json"]


def test_the_json_record_describes_how_scenes_were_served(scene_run, tmp_path: Path) -> None:
    """It held the classification preprocessing ("4096 points as a random subset"), which is false."""
    import json

    checkpoint, root = scene_run
    out = tmp_path / "out"
    assert main([str(checkpoint), str(_room_file(root, tmp_path)), "--out", str(out)]) == 0
    served = json.loads((out / "predictions.json").read_text())["preprocessing"]
    assert served.startswith("whole scenes, every point") and "random subset" not in served


def test_ctrl_c_while_a_las_copy_is_written_leaves_none_of_that_file(scene_run, tmp_path: Path, monkeypatch, capsys) -> None:
    """The file's .classes.ply/.npz were left without its .las (and no table lists them)."""
    import pointea.io.las

    def interrupted(source, classification, destination, chunk_points=0):
        raise KeyboardInterrupt

    monkeypatch.setattr(pointea.io.las, "write_las_classification", interrupted)
    out = tmp_path / "out"
    assert main([str(scene_run[0]), str(_tiles() / "mvk-thin.las"), "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []


def test_out_holding_a_las_input_is_refused_before_any_work(scene_run, tmp_path: Path, capsys) -> None:
    """--out the tile's own folder: its classified copy replaced the tile (its classification lost)."""
    tile = tmp_path / "mvk-thin.las"
    tile.write_bytes((_tiles() / "mvk-thin.las").read_bytes())
    before = tile.read_bytes()
    assert main([str(scene_run[0]), str(tile), "--out", str(tmp_path)]) == 2
    assert "holds the input" in capsys.readouterr().err and tile.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mvk-thin.las"]


@pytest.mark.parametrize(
    ("option", "value"),
    [("--window-size", "0"), ("--window-size", "nan"), ("--window-stride", "-1"), ("--memory-limit", "nan"),
     ("--memory-limit", "0"), ("--memory-limit", "-3")],  # fmt: skip
)
def test_scene_options_are_checked_as_they_are_parsed(option: str, value: str, tmp_path: Path, capsys) -> None:
    """Tracebacks (a ConfigError, "cannot convert float NaN to integer") or, for 0 and -3 GiB, accepted."""
    with pytest.raises(SystemExit) as exit_:
        main(["model.ckpt", "tile.las", option, value, "--out", str(tmp_path / "out")])
    assert exit_.value.code == 2
    assert f"argument {option}: must be a finite number of" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_intensity_of_a_las_file_for_a_checkpoint_without_class_map_says_why(scene_run, tmp_path: Path, capsys) -> None:
    """"the file does not have intensity" of a LAS file, which has it: only a lidar checkpoint reads it."""
    record = torch.load(scene_run[0], map_location="cpu", weights_only=False)
    record["pointea"]["preprocessing"]["features"] = ["intensity"]  # as a SemanticKITTI checkpoint's
    checkpoint = tmp_path / "kitti.ckpt"
    torch.save(record, checkpoint)
    assert main([str(checkpoint), str(_tiles() / "mvk-thin.las"), "--out", str(tmp_path / "out")]) == 1
    assert "intensity is read for a lidar checkpoint only" in capsys.readouterr().err
