"""``pointea-predict`` and ``pointea predict`` with a normal estimation checkpoint: a normal for every
input point in the file's order, the per-file error against the file's own normals (the same
metric code as training), orientation, and refusals in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pointea.io import PointCloud, read_points, write_points
from pointea.predict.cli import main, orient_normals
from pointea.training import cli_main
from pointea.training.normal_error import NormalError
from tests.training.test_normals import normals_config


@pytest.fixture(scope="module")
def normal_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("normal_fit")
    config = normals_config(folder / "config.yaml", folder / "run", max_epochs=1)
    cli_main(["fit", "--config", str(config)])
    return folder / "run" / "checkpoints" / "last.ckpt"


def _sphere(count: int, seed: int = 0) -> np.ndarray:
    points = np.random.default_rng(seed).standard_normal((count, 3))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def test_every_input_point_gets_a_normal_in_file_order(normal_checkpoint, tmp_path, capsys):
    unit = _sphere(700)
    write_points(tmp_path / "ball.ply", PointCloud(points=unit * 3 + 1, normals=unit))
    np.savetxt(tmp_path / "bare.xyz", _sphere(500, seed=1))
    out = tmp_path / "out"
    assert main([str(normal_checkpoint), str(tmp_path / "ball.ply"), str(tmp_path / "bare.xyz"),
                 "--out", str(out), "--workers", "0"]) == 0  # fmt: skip
    saved = np.load(out / "ball.normals.npz")
    assert saved["normals"].shape == (700, 3) and np.array_equal(saved["points"], unit * 3 + 1)
    assert np.allclose(np.linalg.norm(saved["normals"], axis=1), 1, atol=1e-5)
    back = read_points(out / "ball.normals.ply")
    assert np.allclose(back.points, unit * 3 + 1) and np.allclose(back.normals, saved["normals"], atol=1e-6)
    assert np.load(out / "bare.normals.npz")["normals"].shape == (500, 3)
    # the CSV's error is NormalError of the written normals against the file's own
    metric = NormalError()
    metric.update(torch.from_numpy(saved["normals"]), torch.from_numpy(unit))
    expected = metric.compute()
    rows = [line.split(",") for line in (out / "predictions.csv").read_text().splitlines()]
    header, ball, bare = rows[0], rows[1], rows[2]
    assert header[-5:] == ["orientation", "mean_angle", "median_angle", "under_10", "under_30"]
    assert float(ball[header.index("mean_angle")]) == pytest.approx(float(expected["mean_angle"]), abs=1e-3)
    assert float(ball[header.index("under_30")]) == pytest.approx(float(expected["under_30"]), abs=1e-4)
    assert bare[header.index("mean_angle")] == ""  # no normals of its own: nothing to compare


def test_orientation_towards_a_viewpoint(normal_checkpoint, tmp_path):
    unit = _sphere(400, seed=2)
    write_points(tmp_path / "ball.ply", PointCloud(points=unit, normals=unit))
    out = tmp_path / "out"
    assert main([str(normal_checkpoint), str(tmp_path / "ball.ply"), "--out", str(out), "--workers", "0",
                 "--orient", "viewpoint", "--viewpoint", "0,5,0"]) == 0  # fmt: skip
    normals = np.load(out / "ball.normals.npz")["normals"]
    towards = np.array([0, 5, 0]) - unit
    assert ((normals * towards).sum(1) >= -1e-6).all()


def test_tangent_plane_orientation_makes_signs_agree():
    unit = _sphere(2000, seed=3)
    flipped = unit * np.where(np.random.default_rng(4).random(2000) < 0.5, -1, 1)[:, None].astype(np.float32)
    oriented = orient_normals(unit, flipped, "tangent-plane")
    outward = (oriented * unit).sum(1) > 0
    assert outward.mean() > 0.99 or outward.mean() < 0.01
    assert np.allclose(np.abs(oriented), np.abs(flipped))  # only signs change


def test_normal_options_are_refused_where_they_do_not_belong(normal_checkpoint, classifier_checkpoint, tmp_path, capsys):
    np.savetxt(tmp_path / "a.xyz", _sphere(100))
    cases = [
        ([str(normal_checkpoint), "--votes", "3"], "--votes"),
        ([str(normal_checkpoint), "--orient", "viewpoint"], "needs --viewpoint"),
        ([str(normal_checkpoint), "--category", "Airplane"], "this is a normal_estimation checkpoint"),
        ([str(classifier_checkpoint), "--orient", "tangent-plane"], "this is a classification checkpoint"),
    ]
    for arguments, expected in cases:
        status = main([arguments[0], str(tmp_path / "a.xyz"), "--out", str(tmp_path / "o"), *arguments[1:]])
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert status == 2 and error.startswith("pointea-predict: error:") and expected in error, error


def test_lightning_predict_writes_normals_and_their_error(normal_checkpoint, tmp_path):
    config = normals_checkpoint_config(normal_checkpoint)
    cli_main(["predict", "--config", str(config), "--ckpt_path", str(normal_checkpoint),
              "--prediction_writer.output_dir", str(tmp_path)])  # fmt: skip
    arrays = np.load(tmp_path / "predictions.npz")
    assert arrays["normals"].shape == arrays["true_normals"].shape == (15, 128, 3)
    header = (tmp_path / "predictions.csv").read_text().splitlines()[0].split(",")
    assert "mean_angle" in header and len((tmp_path / "predictions.csv").read_text().splitlines()) == 16


def normals_checkpoint_config(checkpoint: Path) -> Path:
    return checkpoint.parents[2] / "config.yaml"


@pytest.mark.parametrize("fmt, suffix", [("onnx", ".onnx"), ("torchscript", ".pt")])
def test_a_normal_checkpoint_exports_and_matches_eager(normal_checkpoint, tmp_path, capsys, fmt, suffix):
    from pointea.export import main as export

    np.savetxt(tmp_path / "a.xyz", _sphere(300))
    out = tmp_path / f"normals{suffix}"
    assert export([str(normal_checkpoint), "--format", fmt, "--out", str(out), "--check", str(tmp_path / "a.xyz")]) == 0
    printed = capsys.readouterr().out
    assert "normal estimation" in printed and "ok" in printed.splitlines()[1]
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(out))
        assert [o.name for o in session.get_outputs()] == ["normals"]
        assert session.get_modelmeta().custom_metadata_map["pointea_task"] == "normal_estimation"
        normals = session.run(None, {"points": _sphere(200)[None]})[0]  # (1, 200, 3)
        assert normals.shape == (1, 200, 3) and np.allclose(np.linalg.norm(normals, axis=-1), 1, atol=1e-5)
