"""``pointea-normals-pca``: PCA normals are right where geometry says so, the command scores exactly
the config's test clouds, and a pointea-compare report's runs land in the same table."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from pointea.bench.normals_pca import main, pca_normals
from tests.training.conftest import classification_root, tiny_config  # noqa: F401 (a fixture)
from tests.training.test_normals import normals_config


def test_pca_normals_of_a_tilted_plane_and_a_sphere():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (2, 500))
    plane = np.stack([a, b, 0.5 * a - 0.25 * b], axis=1)  # z = 0.5 x - 0.25 y
    normal = np.array([0.5, -0.25, -1.0]) / np.linalg.norm([0.5, -0.25, -1.0])
    estimate = pca_normals(plane, 10)
    assert np.allclose(np.abs(estimate @ normal), 1.0, atol=1e-5)
    sphere = rng.standard_normal((4000, 3))
    sphere /= np.linalg.norm(sphere, axis=1, keepdims=True)
    cos = np.abs((pca_normals(sphere, 20) * sphere).sum(1))
    assert np.median(cos) > np.cos(np.radians(3))
    with pytest.raises(ValueError, match="k must be >= 3"):
        pca_normals(sphere, 2)


def _compare_report(path: Path) -> Path:
    """A pointea-compare report of one config, two seeds (the structure pointea-compare writes)."""
    def run(seed: int, angle: float) -> dict:
        metrics = {f"test/{name}": value for name, value in (
            ("mean_angle", angle), ("median_angle", angle - 5), ("under_5", 0.1), ("under_10", 0.2),
            ("under_20", 0.4), ("under_30", 0.5), ("cosine_distance", 0.2))}  # fmt: skip
        return {"seed": seed, "status": "ok", "tests": {"last": [{"votes": 1, "metrics": metrics}],
                                                        "best": [{"votes": 1, "metrics": metrics}]}}  # fmt: skip
    report = {"task": "normal_estimation", "seeds": [0, 1],
              "configs": [{"label": "external", "summary": {"status": "ok"}, "runs": [run(0, 30.0), run(1, 34.0)]}]}
    path.write_text(json.dumps(report))
    return path


def test_the_command_scores_the_configs_test_clouds(tmp_path, capsys):
    config = normals_config(tmp_path / "normals.yaml", tmp_path / "run")
    out = tmp_path / "report" / "normals"
    lightning = logging.getLogger("pytorch_lightning")
    level = lightning.level
    status = main(["--config", str(config), "--k", "10,20", "--compare", str(_compare_report(tmp_path / "c.json")),
                   "--out", str(out), "--data.init_args.num_points", "512"])  # fmt: skip
    assert status == 0
    assert lightning.level == level  # quiet while it builds the data module, then as it was
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["clouds"] == 15 and report["points_per_cloud"] == 512  # 5 families x 3, the test split
    assert set(report["pca"]) == {"10", "20"}
    for scores in report["pca"].values():
        assert scores["points"] == 15 * 512
        assert 0 < scores["mean_angle"] < 20  # clean analytic surfaces: PCA is good, not perfect
    table = out.with_suffix(".md").read_text()
    assert "| PCA k=10 (open3d) |" in table and "| external | last | 0,1 | 32.00 +- 2.83 (30.00 / 34.00)" in table
    assert "sign-free" in table


def test_a_data_module_without_normals_is_one_line(tmp_path, capsys, classification_root):
    config = tiny_config(tmp_path / "c.yaml", "classification", classification_root, tmp_path / "run")
    assert main(["--config", str(config)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("pointea-normals-pca: error:") and "serves no 'normals'" in error and "\n" not in error


def test_a_runs_folder_counts_only_finished_ok_runs(tmp_path):
    from pointea.bench.normals_pca import _network_rows, _runs_report

    report = json.loads(_compare_report(tmp_path / "c.json").read_text())
    for run in report["configs"][0]["runs"]:
        folder = tmp_path / "runs" / "external" / f"seed{run['seed']}"
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(run))
    failed = tmp_path / "runs" / "external" / "seed2"
    failed.mkdir()
    (failed / "result.json").write_text(json.dumps({"seed": 2, "status": "failed", "reason": "killed"}))
    (tmp_path / "runs" / "offset" / "seed0").mkdir(parents=True)  # still running: no result yet
    rows = _network_rows(_runs_report(tmp_path / "runs"))
    assert [(r["label"], r["checkpoint"], r["seeds"]) for r in rows] == [("external", "last", "0,1"), ("external", "best", "0,1")]
    assert rows[0]["stats"]["mean_angle"]["mean"] == pytest.approx(32.0)


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda c: c["data"]["init_args"].update(bogus_key=3), "data: Option 'bogus_key' is not accepted"),
        (lambda c: c["model"]["init_args"]["network"]["init_args"]["encoder"]["init_args"].update(neighbours=0),
         "PointEncoder: neighbours must be an integer >= 1, got 0"),
    ],
)  # fmt: skip
def test_a_bad_config_is_the_same_one_line_here_and_in_the_viewers(tmp_path, capsys, classification_root, edit, reason):
    """Both read a config through pointea.training.cli.load_config, so both say what pointea fit says."""
    import yaml

    from visualize import attention

    config = tiny_config(tmp_path / "c.yaml", "classification", classification_root, tmp_path / "run")
    content = yaml.safe_load(config.read_text())
    edit(content)
    config.write_text(yaml.safe_dump(content))
    expected = f"cannot use config {config}: {reason}"
    assert main(["--config", str(config)]) == 1
    assert capsys.readouterr().err.strip() == f"pointea-normals-pca: error: {expected}"
    with pytest.raises(SystemExit) as exit_info:
        attention.main(["--config", str(config), "--save", str(tmp_path / "x.png")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[0] == f"python -m visualize.attention: error: {expected}"
    missing = tmp_path / "absent.yaml"
    assert main(["--config", str(missing)]) == 1
    assert capsys.readouterr().err.strip() == f"pointea-normals-pca: error: config not found: {missing}"
