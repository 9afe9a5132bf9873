"""Normal estimation end to end through the ``pointea`` CLI on the analytic synthetic set: fit,
test (the logged metrics are NormalError's on the network's own outputs), the checkpoint record,
refusals across tasks, and the loss's orientation switch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from pointea import PCTNormalEstimator
from pointea.data.normals import NormalsDataModule
from pointea.models.checkpoint import read_checkpoint
from pointea.training import cli_main
from pointea.training.normal_error import NormalError
from pointea.training.normals import NormalEstimation
from tests.conftest import TINY_ENCODER
from tests.training.test_cli import one_line_error

POINTS = 128


def normals_config(path: Path, run_dir: Path, attention: str = "external", **trainer) -> Path:
    """A tiny normal estimator on the synthetic analytic surfaces (3 clouds per family and split)."""
    encoder = {**TINY_ENCODER, "attention": attention, "sample_sizes": [], "stage_channels": [], "pooling": "max+mean"}
    config = {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": 2, "default_root_dir": str(run_dir),
                    "enable_progress_bar": False, "enable_model_summary": False, "log_every_n_steps": 1, **trainer},
        "model": {"class_path": "pointea.training.normals.NormalEstimation",
                  "init_args": {"network": {"class_path": "pointea.PCTNormalEstimator",
                                            "init_args": {"hidden_channels": [32],
                                                          "encoder": {"class_path": "pointea.PointEncoder",
                                                                      "init_args": encoder}}}}},
        "data": {"class_path": "pointea.data.normals.NormalsDataModule",
                 "init_args": {"layout": "synthetic", "num_points": POINTS, "batch_size": 5,
                               "synthetic_per_class": 3}},
    }  # fmt: skip
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def normals_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("normals_run")
    config = normals_config(folder / "config.yaml", folder / "run")
    cli_main(["fit", "--config", str(config)])
    return config


def test_fit_records_the_task_and_test_logs_normal_error_of_the_outputs(normals_run):
    last = normals_run.parent / "run" / "checkpoints" / "last.ckpt"
    record = read_checkpoint(last)["pointea"]
    assert record["task"] == "normal_estimation" and record["labels"] == {"oriented": False}
    cli = cli_main_test(normals_run, last)
    logged = {k: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("test/")}
    # recompute from the checkpoint's network on the same test clouds
    network = PCTNormalEstimator.from_checkpoint(last).eval()
    data = NormalsDataModule(layout="synthetic", num_points=POINTS, batch_size=5, synthetic_per_class=3)
    data.setup("test")
    metric = NormalError()
    with torch.no_grad():
        for batch in data.test_dataloader():
            metric.update(network(batch["points"]), batch["normals"])
    expected = metric.compute()
    for name in ("mean_angle", "median_angle", "cosine_distance", "under_10", "under_30"):
        assert logged[f"test/{name}"] == pytest.approx(float(expected[name]), abs=1e-4), name
    assert logged["test/cosine_similarity"] == pytest.approx(1 - float(expected["cosine_distance"]), abs=1e-5)
    assert 0 <= logged["test/mean_angle"] <= 90


def cli_main_test(config: Path, checkpoint: Path):
    from pointea.training.cli import PointeaCLI

    return PointeaCLI(args=["test", "--config", str(config), "--ckpt_path", str(checkpoint)], exit_on_error=False)


def test_checkpoints_of_the_other_tasks_are_refused_in_one_line(normals_run, classification_run):
    normal_ckpt = normals_run.parent / "run" / "checkpoints" / "last.ckpt"
    classification_ckpt = classification_run.parent / "run" / "checkpoints" / "last.ckpt"
    message = one_line_error(["test", "--config", str(classification_run), "--ckpt_path", str(normal_ckpt)])
    assert "'normal_estimation' checkpoint" in message and "PointCloudClassifier" in message
    message = one_line_error(["test", "--config", str(normals_run), "--ckpt_path", str(classification_ckpt)])
    assert "'classification' checkpoint" in message and "NormalEstimation" in message


@pytest.mark.slow
def test_training_lowers_the_error_on_analytic_normals(tmp_path):
    """Random sign-free directions score 1 radian (57.3 degrees) on average; training must go below."""
    config = normals_config(tmp_path / "c.yaml", tmp_path / "run", max_epochs=6)
    cli_main(["fit", "--config", str(config), "--model.init_args.optimizer", "torch.optim.Adam",
              "--model.init_args.optimizer.lr", "0.003"])  # fmt: skip
    metrics = sorted((tmp_path / "run" / "csv").glob("version_*/metrics.csv"))[-1].read_text().splitlines()
    header = metrics[0].split(",")
    column = header.index("val/mean_angle")
    angles = [float(row.split(",")[column]) for row in metrics[1:] if row.split(",")[column]]
    assert len(angles) == 6 and min(angles) < angles[0] - 2 and angles[-1] < 57.0, angles


def test_votes_are_refused_and_orientation_changes_the_loss():
    network = PCTNormalEstimator(hidden_channels=(16,))
    with pytest.raises(ValueError, match="votes must be 1"):
        NormalEstimation(network, votes=10)
    points = torch.randn(2, 64, 3)
    network.eval()
    with torch.no_grad():
        estimate = network(points)
    batch = {"points": points, "normals": -estimate, "index": torch.arange(2)}
    sign_free, signed = NormalEstimation(network).eval(), NormalEstimation(network, oriented=True).eval()
    with torch.no_grad():
        assert sign_free.training_step(batch, 0).item() == pytest.approx(0.0, abs=1e-5)
        assert signed.training_step(batch, 0).item() == pytest.approx(2.0, abs=1e-5)


@pytest.mark.parametrize(
    "name, attention", [("modelnet40_normals.yaml", "external"), ("modelnet40_normals_pct.yaml", "offset"),
                        ("modelnet40_normals_local.yaml", "external"), ("demo_normals.yaml", "external")],
)  # fmt: skip
def test_the_normal_configs_build_with_their_recipe(name, attention, tmp_path, monkeypatch):
    from pointea.training.cli import PointeaCLI
    from tests.training.conftest import REPO

    monkeypatch.chdir(tmp_path)
    cli = PointeaCLI(args=["--config", str(REPO / "configs" / name)], run=False)
    model, trainer = cli.model, cli.trainer
    assert type(model) is NormalEstimation and type(model.network) is PCTNormalEstimator
    assert model.network.encoder.attention == attention and model.oriented is False
    assert model.network.encoder.sample_sizes == ()  # every point through the attention layers
    assert trainer.checkpoint_callback.monitor == "val/cosine_similarity" and trainer.checkpoint_callback.mode == "max"
    assert type(cli.datamodule) is NormalsDataModule
    model.trainer = trainer
    optimizer = model.configure_optimizers()["optimizer"]
    group = optimizer.param_groups[0]
    if name.startswith("modelnet40"):  # PCT's network and recipe, the HDF5 layout
        assert cli.datamodule.layout == "hdf5" and cli.config["trainer"]["sync_batchnorm"] is True
        assert model.network.encoder.out_channels == 1024 and model.network.encoder.fuse.linear.in_features == 4 * 128
        assert isinstance(optimizer, torch.optim.SGD) and (group["lr"], group["momentum"]) == (0.01, 0.9)
    else:
        assert cli.datamodule.layout == "synthetic"


def test_compare_knows_the_normal_task_and_shows_angles_as_degrees():
    from pointea.training.compare import TEST_METRICS, _percent, config_task
    from tests.training.conftest import REPO

    assert config_task(REPO / "configs" / "modelnet40_normals.yaml") == "normal_estimation"
    assert "test/mean_angle" in TEST_METRICS["normal_estimation"]
    stats = {"mean": 32.5, "std": 0.5, "min": 31.9, "max": 33.0}
    assert _percent(stats, "test/mean_angle").startswith("32.500 +- 0.500")
    assert _percent({"mean": 0.25, "std": None, "min": 0.25, "max": 0.25}, "test/under_10").startswith("25.0 +- n/a")
