"""visualize.normals: sign-free direction colours, the error tile's numbers, a headless picture from
pointea-predict's output and from a config, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from visualize import normals
from visualize.normals import NormalsRecord, direction_colors, error_degrees, normals_tiles
from tests.training.test_normals import normals_config


def _sphere(count: int, seed: int = 0) -> np.ndarray:
    points = np.random.default_rng(seed).standard_normal((count, 3))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def test_direction_colours_ignore_the_sign_and_errors_are_sign_free_angles():
    unit = _sphere(50)
    assert np.allclose(direction_colors(unit), direction_colors(-unit))
    assert direction_colors(unit).min() >= 0 and direction_colors(unit).max() <= 1
    assert np.allclose(direction_colors(np.array([[0.0, 0.0, -2.0]])), [[0, 0, 1]])
    tilted = np.array([[np.cos(np.radians(30)), np.sin(np.radians(30)), 0.0]])
    assert error_degrees(tilted, np.array([[1.0, 0, 0]]))[0] == pytest.approx(30)
    assert error_degrees(-tilted, np.array([[1.0, 0, 0]]))[0] == pytest.approx(30)


def test_tiles_show_truth_estimate_and_error_or_the_estimate_alone():
    unit = _sphere(200, seed=1)
    record = NormalsRecord(unit, unit, unit, "x")
    layout, tiles = normals_tiles(record, 64)
    assert (layout.rows, layout.cols) == (1, 3)
    assert "mean 0.0, median 0.0 deg" in tiles[(0, 2)].title
    layout, tiles = normals_tiles(NormalsRecord(unit, unit, None, "x"), 64)
    assert (layout.rows, layout.cols) == (1, 1) and "estimated" in tiles[(0, 0)].title


def test_pictures_from_predictions_and_from_a_config(tmp_path: Path, capsys):
    unit = _sphere(300, seed=2).astype(np.float32)
    npz = tmp_path / "ball.normals.npz"
    np.savez(npz, points=unit, normals=unit[::-1].copy(), true_normals=unit)
    assert normals.main(["--predictions", str(npz), "--save", str(tmp_path / "p.png"), "--tile-size", "96"]) == 0
    picture = np.asarray(Image.open(tmp_path / "p.png"))
    assert picture.shape[1] > 3 * 96 and picture.std() > 10  # three tiles, drawn
    config = normals_config(tmp_path / "c.yaml", tmp_path / "run")
    assert normals.main(["--config", str(config), "--index", "2", "--save", str(tmp_path / "c.png"), "--tile-size", "64"]) == 0
    assert "random init (seed 0), untrained" in capsys.readouterr().out


def test_bad_input_is_one_line(tmp_path: Path, capsys, classification_run):
    save = ["--save", str(tmp_path / "x.png")]
    for argv, expected in [
        (["--predictions", str(tmp_path / "none.npz")], "no such file"),
        (["--config", str(classification_run.config)], "needs a NormalsDataModule config"),
        (["--config", str(normals_config(tmp_path / "c.yaml", tmp_path / "run")), "--ckpt", str(classification_run.ckpt)],
         "not of a PCTNormalEstimator"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            normals.main([*argv, *save])
        error = capsys.readouterr().err.strip().splitlines()[0]  # the error line, then where --help is
        assert exit_info.value.code == 2 and "error:" in error and expected in error, error
