"""The scene viewer: what it records of a whole scene (every point predicted as ``pointea test``
does, the ceiling left out, each head's strongest slot), its tiles, and a headless picture of a
procedural room from a config."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from pointea.models.encoder import PointEncoder
from pointea.models.per_point import PCTSemanticSegmenter
from pointea.training.semantic import SemanticSegmentation
from visualize import scenes
from visualize.scenes import ERROR_COLORS, record_scene, scene_clouds, scene_tiles

NAMES = ["ceiling", "floor", "wall", "table"]
ENCODER = dict(
    embedding_channels=16, sample_sizes=[], stage_channels=[], channels=16, num_layers=2, memory_slots=8, heads=2,
    out_channels=32, pooling="max+mean", pre_attention_layers=0, fuse_embedding=False,
)  # fmt: skip


def _module(chunk_size: int = 256) -> SemanticSegmentation:
    network = PCTSemanticSegmenter(num_classes=len(NAMES), encoder=PointEncoder(in_channels=3, **ENCODER), hidden_channels=(16,))
    return SemanticSegmentation(network, class_names=NAMES, chunk_size=chunk_size).eval()


def _room(num_points: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    points = torch.rand(num_points, 3, generator=generator) * torch.tensor([5.0, 4.0, 3.0])
    labels = torch.where(points[:, 2] > 2.8, 0, torch.where(points[:, 2] < 0.2, 1, 2))  # ceiling, floor, wall
    labels[::11] = -1
    return {"points": points, "features": torch.rand(num_points, 3, generator=generator), "labels": labels}


def test_every_point_is_predicted_and_the_ceiling_is_left_out() -> None:
    module, room = _module(), _room(900)
    record = record_scene(module, room, "room_1")
    with torch.inference_mode():
        expected = module.scene_probabilities(room["points"][None], room["features"][None])[0].argmax(dim=-1)
    kept = room["labels"] != 0
    assert record.scene_points == 900 and record.points.shape == (int(kept.sum()), 3)
    assert np.array_equal(record.prediction, expected[kept].numpy())  # the chunked whole-scene pass's labels
    assert np.array_equal(record.truth, room["labels"][kept].numpy())
    assert record.slots.shape == (2, record.points.shape[0]) and record.slots.max() < 8
    assert "mIoU" in record.caption and "900 points" in record.caption
    with_ceiling = record_scene(module, room, "room_1", show_ceiling=True)
    assert with_ceiling.points.shape[0] == 900


def test_the_slots_are_the_whole_scenes_attention_at_the_points_drawn() -> None:
    """Slots come from the whole scene in chunks (700 points, chunks of 256), exactly as the
    unchunked network's attention over all 700 points; --max-points thins only the drawing."""
    module, room = _module(), _room(700)
    record = record_scene(module, room, "r", layer=0, max_points=300, show_ceiling=True)
    assert record.points.shape[0] == 300 and record.layer == 0 and record.num_slots == 8
    shown = torch.from_numpy(record.points)
    index = torch.cdist(shown, room["points"]).argmin(dim=1)  # the drawn points' rows in the scene
    with torch.inference_mode():
        _, encoding = module.network(room["points"][None], room["features"][None], return_attention=True)
    maps = encoding.attention[0][0][:, index]  # (H, N, S) -> (H, M, S) at the drawn points
    got = torch.from_numpy(record.slots)  # (H, M)
    differ = got != maps.argmax(dim=-1)
    chosen = maps.gather(-1, got[..., None])[..., 0]
    assert differ.float().mean() <= 0.01
    assert not differ.any() or (maps.max(dim=-1).values - chosen)[differ].max() <= 1e-5  # near-ties only
    _, on_subset = module.network(room["points"][index][None], room["features"][index][None], return_attention=True)
    assert not torch.equal(got, on_subset.attention[0][0].argmax(dim=-1))  # a subset's own attention is not the scene's


def test_tiles_truth_prediction_errors_and_one_per_head() -> None:
    record = record_scene(_module(), _room(600), "r")
    clouds = scene_clouds(record)
    assert [title for _, title in clouds][:2] == ["truth", "prediction"] and len(clouds) == 3 + 2
    errors = clouds[2][0].colors
    wrong = (record.truth != record.ignore_index) & (record.truth != record.prediction)
    assert np.array_equal(errors[wrong], np.repeat(ERROR_COLORS[1:], wrong.sum(), axis=0))
    layout, tiles = scene_tiles(record, 64)
    assert (layout.rows, layout.cols) == (2, 4) and len(tiles) == 5


def test_a_layer_out_of_range_is_one_line() -> None:
    from pointea.errors import InputError

    with pytest.raises(InputError, match="--layer 5 is out of range: the network has 2 attention layers"):
        record_scene(_module(), _room(100), "r", layer=5)


@pytest.mark.slow
def test_headless_picture_of_a_procedural_room(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("open3d")
    path = _room_config(tmp_path)
    picture = tmp_path / "room.png"
    assert scenes.main(["--config", str(path), "--save", str(picture), "--tile-size", "96"]) == 0
    from PIL import Image

    image = np.asarray(Image.open(picture).convert("RGB"))
    assert image.shape[0] > 2 * 96 and image.shape[1] > 4 * 96  # 2 rows of 4 tiles
    assert (image < 250).any(axis=-1).mean() > 0.02  # something was drawn
    assert "random init (seed 0), untrained" in capsys.readouterr().out


def _room_config(tmp_path: Path) -> Path:
    config = {
        "trainer": {"accelerator": "cpu", "default_root_dir": str(tmp_path / "run"), "enable_progress_bar": False},
        "model": {"class_path": "pointea.training.semantic.SemanticSegmentation", "init_args": {
            "network": {"class_path": "pointea.PCTSemanticSegmenter", "init_args": {
                "hidden_channels": [16], "encoder": {"class_path": "pointea.PointEncoder",
                                                     "init_args": {**ENCODER, "in_channels": 6}}}}}},
        "data": {"class_path": "pointea.data.s3dis.S3DISDataModule", "init_args": {
            "root": str(tmp_path / "rooms"), "synthetic": True, "synthetic_rooms_per_area": 1, "synthetic_density": 40.0,
            "num_points": 256, "batch_size": 2}},
    }  # fmt: skip
    path = tmp_path / "scene.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def test_a_bad_checkpoint_or_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing checkpoint, one of another task and a binary --config were tracebacks."""
    from pointea.models.checkpoint import CHECKPOINT_KEY
    from pointea.training.module import RECORD_FORMAT

    config = _room_config(tmp_path)
    other = tmp_path / "classifier.ckpt"
    torch.save({"state_dict": {}, CHECKPOINT_KEY: {"format": RECORD_FORMAT, "task": "classification", "network": {}}}, other)
    cases = [
        (["--config", str(config), "--ckpt", str(tmp_path / "missing.ckpt")], "checkpoint not found: .*missing.ckpt"),
        (["--config", str(config), "--ckpt", str(other)], "classifier.ckpt is a 'classification' checkpoint"),
        (["--config", str(other)], r"--config .*classifier.ckpt: not a YAML config \(not UTF-8 text"),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit) as exit_:
            scenes.main([*argv, "--save", str(tmp_path / "room.png")])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 2 and re.search(message, err), err
    assert not (tmp_path / "room.png").exists()


def test_a_layer_out_of_range_is_refused_before_the_data_is_prepared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was found after the data module had prepared (for lidar: converted) and set up every scene."""
    from pointea.data.s3dis import S3DISDataModule

    def prepared(self, *args):
        raise AssertionError("the data was prepared before --layer was checked")

    monkeypatch.setattr(S3DISDataModule, "prepare_data", prepared)
    monkeypatch.setattr(S3DISDataModule, "setup", prepared)
    with pytest.raises(SystemExit):
        scenes.main(["--config", str(_room_config(tmp_path)), "--layer", "99", "--save", str(tmp_path / "room.png")])
    assert "--layer 99 is out of range: the network has 2 attention layers" in capsys.readouterr().err


def test_a_checkpoint_of_other_classes_or_features_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Same architecture, other class names (or the features in another order): it was drawn, every
    class named wrongly (a lidar checkpoint of ground/other shown as another map's water/bridge)."""
    from pointea.models.checkpoint import CHECKPOINT_KEY
    from pointea.training.cli import load_config

    config = _room_config(tmp_path)
    cli = load_config(config)
    record = {**cli.model.network_record(), "labels": {**cli.model.label_record()},
              "preprocessing": cli.datamodule.preprocessing_record()}  # fmt: skip
    renamed = {**record, "labels": {**record["labels"], "classes": list(reversed(record["labels"]["classes"]))}}
    swapped = {**record, "preprocessing": {**record["preprocessing"], "features": ["normalized", "color"]}}
    for name, held, message in (("renamed", renamed, "other labels classes"), ("swapped", swapped, "other features")):
        path = tmp_path / f"{name}.ckpt"
        torch.save({"state_dict": cli.model.state_dict(), CHECKPOINT_KEY: held}, path)
        with pytest.raises(SystemExit):
            scenes.main(["--config", str(config), "--ckpt", str(path), "--save", str(tmp_path / "room.png")])
        assert message in capsys.readouterr().err
    assert not (tmp_path / "room.png").exists()
