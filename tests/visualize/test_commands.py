"""The commands end to end, headless, on pointea's real training modules: PNGs from checkpoints that
a very short ``pointea fit`` wrote (see ``conftest.py``), and one-line errors for bad input."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from pointea.models import PCTClassifier
from tests.visualize.conftest import REAL_SUBSET, Run
from visualize import attention, dataset, parts
from visualize.attention import record_attention
from visualize.cloud import MARKER_COLOR
from visualize.loading import load_data, load_model
from visualize.parts import ERROR_COLORS
from visualize.picture import GridLayout
from tests.conftest import missing_real_data

TILE = 96


def _png(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"))


def _tile(image: np.ndarray, layout: GridLayout, row: int, col: int) -> np.ndarray:
    x0, y0, x1, y1 = layout.image_box(row, col)
    return image[y0:y1, x0:x1]


def _pixels_of(tile: np.ndarray, color: tuple[float, float, float] | np.ndarray) -> int:
    """How many pixels of ``tile`` have ``color`` (RGB in [0, 1])."""
    target = np.round(np.asarray(color) * 255).astype(int)
    return int((np.abs(tile.astype(int) - target).sum(axis=-1) < 30).sum())


def _inked(tile: np.ndarray) -> float:
    """Fraction of the tile's pixels that are not white background."""
    return float((tile != 255).any(axis=-1).mean())


# Pictures -----------------------------------------------------------------------------------------


def test_attention_picture_from_a_trained_checkpoint(tmp_path: Path, classification_run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "attention.png"
    argv = ["--config", str(classification_run.config), "--ckpt", str(classification_run.ckpt), "--index", "0"]
    assert attention.main([*argv, "--save", str(out), "--tile-size", str(TILE)]) == 0
    printed = capsys.readouterr().out
    assert "checkpoint last.ckpt" in printed and "random init" not in printed
    image = _png(out)
    layout = GridLayout(rows=2, cols=5, tile_width=TILE, tile_height=TILE)  # 2 layers x (input + 4 heads)
    assert image.shape == (layout.size[1], layout.size[0], 3)
    tiles = [[_tile(image, layout, r, c) for c in range(5)] for r in range(2)]
    for row in tiles:
        for tile in row:
            assert _inked(tile) > 0.02  # points drawn: not blank
    # Heads attend differently: their tiles differ (same camera, same points, other colours).
    for row in tiles:
        for a in range(1, 5):
            for b in range(a + 1, 5):
                assert np.abs(row[a].astype(int) - row[b].astype(int)).sum() > 0


def test_the_viewers_show_the_checkpoints_weights(classification_run: Run) -> None:
    data = load_data(classification_run.config, "test")
    trained = load_model(classification_run.config, classification_run.ckpt, data)
    expected = PCTClassifier.from_checkpoint(classification_run.ckpt).state_dict()
    shown = trained.network.state_dict()
    assert shown.keys() == expected.keys()
    assert all(torch.equal(shown[name], expected[name]) for name in expected)
    assert not trained.network.training
    # ... and not the config's architecture drawn from a seed, which is what runs without --ckpt.
    untrained = load_model(classification_run.config, None, data, seed=0).network.state_dict()
    assert any(not torch.equal(untrained[name], expected[name]) for name in expected)


def test_a_random_model_says_so_and_is_reproducible(tmp_path: Path, classification_run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--config", str(classification_run.config), "--index", "1", "--colour-by", "weight", "--slot", "3", "--tile-size", str(TILE)]
    first, again = tmp_path / "first.png", tmp_path / "again.png"
    assert attention.main([*argv, "--save", str(first)]) == 0
    assert "random init (seed 0), untrained" in capsys.readouterr().out
    assert attention.main([*argv, "--save", str(again)]) == 0
    np.testing.assert_array_equal(_png(again), _png(first))


def test_offset_attention_picture_on_the_full_cloud(tmp_path: Path, offset_config: Path) -> None:
    out = tmp_path / "offset.png"
    assert attention.main(["--config", str(offset_config), "--index", "1", "--query", "5", "--full-cloud", "--save", str(out), "--tile-size", str(TILE)]) == 0
    layout = GridLayout(rows=2, cols=2, tile_width=TILE, tile_height=TILE)  # offset attention: 1 head
    image = _png(out)
    assert image.shape == (layout.size[1], layout.size[0], 3)
    assert _pixels_of(_tile(image, layout, 0, 1), MARKER_COLOR) > 0  # the query point is marked


def test_parts_picture_from_a_trained_checkpoint(tmp_path: Path, segmentation_run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "parts.png"
    argv = ["--config", str(segmentation_run.config), "--ckpt", str(segmentation_run.ckpt), "--index", "1"]
    assert parts.main([*argv, "--save", str(out), "--tile-size", str(TILE)]) == 0
    layout = GridLayout(rows=1, cols=3, tile_width=TILE, tile_height=TILE)
    image = _png(out)
    assert image.shape == (layout.size[1], layout.size[0], 3)
    truth, prediction, errors = (_tile(image, layout, 0, c) for c in range(3))
    assert min(_inked(truth), _inked(prediction), _inked(errors)) > 0.02
    # The picture is the checkpoint's prediction: its caption, and red in the error tile exactly
    # when some points are wrong.
    data = load_data(segmentation_run.config, "test")
    record = record_attention(load_model(segmentation_run.config, segmentation_run.ckpt, data).network, data.dataset[1], data.label_names)
    assert f"checkpoint last.ckpt | {record.caption}" in capsys.readouterr().out
    wrong = int((record.truth != record.prediction).sum())
    assert (_pixels_of(errors, ERROR_COLORS[1]) > 0) == (wrong > 0)
    assert (_pixels_of(errors, ERROR_COLORS[0]) > 0) == (wrong < record.points.shape[0])


def test_dataset_grid(tmp_path: Path, segmentation_run: Run) -> None:
    out = tmp_path / "data.png"
    assert dataset.main(["--config", str(segmentation_run.config), "--split", "train", "--count", "3", "--cols", "2", "--save", str(out), "--tile-size", str(TILE)]) == 0
    layout = GridLayout(rows=2, cols=2, tile_width=TILE, tile_height=TILE)
    image = _png(out)
    assert image.shape == (layout.size[1], layout.size[0], 3)
    assert _inked(_tile(image, layout, 1, 0)) > 0.02 and _inked(_tile(image, layout, 1, 1)) == 0


# Bad input: one ``error:`` line, exit status 2, no traceback ----------------------------------------


def _error(capsys: pytest.CaptureFixture[str], command: Callable[[list[str]], int], argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_info:
        command(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1
    return lines[0]


def test_bad_input_is_a_one_line_error(tmp_path: Path, classification_run: Run, segmentation_run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    cls, seg = str(classification_run.config), str(segmentation_run.config)
    save = ["--save", str(tmp_path / "x.png")]
    assert "checkpoint not found" in _error(capsys, attention.main, ["--config", cls, "--ckpt", str(tmp_path / "no.ckpt"), *save])
    assert "config not found" in _error(capsys, attention.main, ["--config", str(tmp_path / "no.yaml"), *save])
    line = _error(capsys, attention.main, ["--config", cls, "--ckpt", str(classification_run.ckpt), "--index", "100000", *save])
    assert "--index 100000 is out of range" in line and "samples" in line
    line = _error(capsys, parts.main, ["--config", seg, "--ckpt", str(segmentation_run.ckpt), "--index", "-1", *save])
    assert "--index -1 is out of range" in line
    assert "split" in _error(capsys, attention.main, ["--config", cls, "--split", "val", *save])  # ModelNet40 has none
    assert "needs a part segmentation config" in _error(capsys, parts.main, ["--config", cls, *save])
    assert "--slot 99 is out of range" in _error(capsys, attention.main, ["--config", cls, "--colour-by", "weight", "--slot", "99", *save])
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    assert "cannot read checkpoint" in _error(capsys, attention.main, ["--config", seg, "--ckpt", str(garbage), *save])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="displays are found through DISPLAY on Linux")
def test_a_window_without_a_display_is_a_one_line_error_before_any_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    missing = str(tmp_path / "no.yaml")  # not even read
    for command in (attention.main, parts.main, dataset.main):
        assert "use --save out.png" in _error(capsys, command, ["--config", missing])


def test_a_checkpoint_of_the_other_task_is_a_one_line_error(tmp_path: Path, classification_run: Run, segmentation_run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    save = ["--save", str(tmp_path / "x.png")]
    line = _error(capsys, attention.main, ["--config", str(classification_run.config), "--ckpt", str(segmentation_run.ckpt), *save])
    assert "is a part_segmentation checkpoint of a PCTPartSegmenter" in line and "needs a PCTClassifier" in line
    line = _error(capsys, parts.main, ["--config", str(segmentation_run.config), "--ckpt", str(classification_run.ckpt), *save])
    assert "is a classification checkpoint of a PCTClassifier" in line and "needs a PCTPartSegmenter" in line


def test_a_checkpoint_of_another_label_set_is_a_one_line_error(tmp_path: Path, classification_run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    """A classifier trained on the real subset's 40 classes, shown on the synthetic 12-class set."""
    if not (REAL_SUBSET / "shape_names.txt").is_file():
        missing_real_data(f"needs the real ModelNet40 subset (40 classes) at {REAL_SUBSET}")
    synthetic = tmp_path / "synthetic"
    config = yaml.safe_load(classification_run.config.read_text())
    config["data"]["init_args"]["root"] = str(synthetic)
    path = tmp_path / "synthetic.yaml"
    path.write_text(yaml.safe_dump(config))
    line = _error(capsys, attention.main, ["--config", str(path), "--ckpt", str(classification_run.ckpt), "--save", str(tmp_path / "x.png")])
    assert "has 40 classes, the data 12" in line


def test_a_config_of_another_kind_of_model_is_a_one_line_error(tmp_path: Path, classification_run: Run, capsys: pytest.CaptureFixture[str]) -> None:
    config = yaml.safe_load(classification_run.config.read_text())
    config["model"] = {"class_path": "pytorch_lightning.demos.boring_classes.BoringModel"}
    path = tmp_path / "boring.yaml"
    path.write_text(yaml.safe_dump(config))
    line = _error(capsys, attention.main, ["--config", str(path), "--save", str(tmp_path / "x.png")])
    assert f"cannot use config {path}" in line and "PointCloudModule" in line
