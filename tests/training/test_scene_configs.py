"""The scene configs: each builds its semantic segmentation module with the data's label space
linked in, and the demo trains with ``pointea fit --config configs/demo_scene.yaml`` alone into a
usable ``last.ckpt`` that ``pointea test`` scores on every point of the whole test rooms."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from pointea.models.checkpoint import read_checkpoint
from pointea.training import PointeaCLI, cli_main
from pointea.training.semantic import SemanticSegmentation
from tests.training.conftest import REPO

#: config -> (attention, first class, classes, input channels, training crop points)
SCENE_CONFIGS = {
    "demo_scene.yaml": ("external", "ceiling", 13, 6, 4096),
    "s3dis.yaml": ("external", "ceiling", 13, 6, 32_768),
    "s3dis_pct.yaml": ("offset", "ceiling", 13, 6, 4096),
    "demo_lidar.yaml": ("external", "ground", 4, 2, 4096),
    "lidar_tiles.yaml": ("external", "ground", 4, 2, 4096),
}
#: The demo made small enough for a test: fewer, sparser rooms, fewer and smaller crops.
TINY_ROOMS = [
    "--data.init_args.synthetic_rooms_per_area", "1", "--data.init_args.synthetic_density", "40",
    "--data.init_args.num_points", "512", "--data.init_args.crops_per_epoch", "8", "--data.init_args.batch_size", "4",
    "--trainer.enable_progress_bar", "false",
]  # fmt: skip


@pytest.mark.parametrize("name", sorted(SCENE_CONFIGS))
def test_scene_config_builds_with_the_linked_label_space(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["--config", str(REPO / "configs" / name), "--data.init_args.root", str(tmp_path / "scenes")]
    if not name.startswith("demo"):
        args += ["--data.init_args.synthetic", "true"]  # the real configs' data is not here: procedural scenes stand in
    if name == "lidar_tiles.yaml":  # the config names its class map relative to the repository
        args += ["--data.init_args.class_map", str(REPO / "configs" / "class_maps" / "asprs_default.yaml")]
    cli = PointeaCLI(args=args, run=False)
    attention, first, classes, channels, crop_points = SCENE_CONFIGS[name]
    module, data = cli.model, cli.datamodule
    assert type(module) is SemanticSegmentation and module.network.encoder.attention == attention
    assert module.network.num_classes == classes == len(module.class_names) and module.class_names[0] == first
    assert module.network.in_channels == data.in_channels == channels
    assert module.ignore_index == data.ignore_index
    assert data.crop.num_points == crop_points
    assert cli.trainer.checkpoint_callback.monitor == "val/miou"


@pytest.mark.slow
def test_demo_scene_fits_one_epoch_and_tests_whole_rooms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)  # the config's data/ and runs/ folders land here
    config = str(REPO / "configs" / "demo_scene.yaml")
    cli_main(["fit", "--config", config, "--trainer.max_epochs", "1", *TINY_ROOMS])
    last = tmp_path / "runs" / "demo_scene" / "checkpoints" / "last.ckpt"
    record = read_checkpoint(last)["pointea"]
    assert record["task"] == "semantic_segmentation" and record["labels"]["classes"][1] == "floor"
    assert record["preprocessing"]["features"] == ["color", "normalized"]
    capsys.readouterr()
    cli_main(["test", "--config", config, "--ckpt_path", "last", *TINY_ROOMS])
    printed = capsys.readouterr().out
    for metric in ("test/miou", "test/macc", "test/oa", "test/iou/floor"):
        assert metric in printed
    logs = sorted((tmp_path / "runs" / "demo_scene" / "csv").glob("version_*"))
    with open(logs[-1] / "confusion_matrix.csv") as handle:
        rows = list(csv.reader(handle))
    scored = sum(int(v) for row in rows[1:] for v in row[1:])
    rooms = sorted((tmp_path / "data" / "synthetic_rooms" / "Area_5").iterdir())
    import numpy as np

    labelled = sum(int((np.load(room / "segment.npy") >= 0).sum()) for room in rooms)
    assert scored == labelled  # every labelled point of every whole test room, not a crop of it
    assert (logs[-1] / "confusion_matrix.png").stat().st_size > 5000
    cli_main(["predict", "--config", config, "--ckpt_path", "last", *TINY_ROOMS])  # whole rooms of different sizes
    with open(tmp_path / "runs" / "demo_scene" / "predictions" / "predictions.csv") as handle:
        table = list(csv.DictReader(handle))
    sizes = [np.load(room / "segment.npy").shape[0] for room in rooms]
    assert [int(row["points"]) for row in table] == sizes
    assert [sum(int(row[f"class_{i}"]) for i in range(13)) for row in table] == sizes  # every point has a class
    # the same 6 input channels in another order fit the network's shape, but not what it learnt
    with pytest.raises(SystemExit, match=r"other features .*: features\[0\]: 'color' != 'normalized'; use"):
        cli_main(["test", "--config", config, "--ckpt_path", "last", *TINY_ROOMS,
                  "--data.init_args.features", "[normalized, color]"])  # fmt: skip
