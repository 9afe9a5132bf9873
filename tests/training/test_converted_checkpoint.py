"""A converted PCT_Pytorch checkpoint through pointea's commands: ``pointea test`` and ``pointea
predict`` with the real configs/modelnet40_pct.yaml (on a small synthetic set of 1024-point clouds
in the same layout), and the attention viewer. Each must give what PCT's own network gives."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from pointea.convert import main as convert
from pointea.data import ModelNet40
from pointea.training import cli_main
from tests.models.pct_reference import Pct, randomise
from tests.training.conftest import CLASSES, REPO, synthetic_classification

CONFIG = REPO / "configs" / "modelnet40_pct.yaml"
POINTS = 1024


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic_1024")
    return synthetic_classification(root, num_points=POINTS, train_per_class=1, test_per_class=1)


@pytest.fixture(scope="module")
def reference() -> Pct:
    return randomise(Pct(output_channels=CLASSES), seed=9).eval()


@pytest.fixture(scope="module")
def converted(reference: Pct, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("converted")
    torch.save(nn.DataParallel(reference).state_dict(), folder / "model.t7")
    assert convert(["pct-pytorch", str(folder / "model.t7"), str(folder / "pct.ckpt")]) == 0
    return folder / "pct.ckpt"


@pytest.fixture(scope="module")
def reference_probabilities(reference: Pct, data_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """PCT's class probabilities on the test split as stored, and the labels."""
    test_set = ModelNet40(data_root, "test")
    with torch.no_grad():
        logits = reference(torch.from_numpy(test_set.points).transpose(1, 2))  # (M, 3, 1024), as PCT's main.py
    return logits.softmax(-1).numpy(), test_set.shape_labels["label"]


def cli(command: str, data_root: Path, run_dir: Path, ckpt: Path) -> list[str]:
    return [command, "--config", str(CONFIG), "--data.init_args.root", str(data_root),
            "--data.init_args.num_workers", "0", "--trainer.accelerator", "cpu",
            "--trainer.default_root_dir", str(run_dir), "--trainer.enable_progress_bar", "false",
            "--ckpt_path", str(ckpt)]  # fmt: skip


def test_pointea_test_scores_the_converted_checkpoint_as_pct(converted, data_root, tmp_path, reference_probabilities, capsys):
    cli_main(cli("test", data_root, tmp_path / "run", converted))
    out = capsys.readouterr().out
    probabilities, labels = reference_probabilities
    accuracy = float((probabilities.argmax(-1) == labels).mean())
    printed = re.search(r"test/acc\W+([0-9.]+)", out)  # the metrics table: "│ test/acc │ 0.0833... │"
    assert printed is not None and abs(float(printed.group(1)) - accuracy) < 1e-6, out


def test_pointea_predict_writes_pct_predictions(converted, data_root, tmp_path, reference_probabilities):
    cli_main(cli("predict", data_root, tmp_path / "run", converted))
    rows = np.genfromtxt(tmp_path / "run" / "predictions" / "predictions.csv",
                         delimiter=",", names=True, dtype=None, encoding=None)  # fmt: skip
    probabilities, _ = reference_probabilities
    names = np.array(ModelNet40(data_root, "test").class_names)  # linked from the data module
    assert rows["label_1"].tolist() == names[probabilities[rows["index"]].argmax(-1)].tolist()
    assert np.allclose(rows["probability_1"], probabilities[rows["index"]].max(-1), atol=1e-4)


def test_attention_viewer_takes_the_converted_checkpoint(converted, data_root, tmp_path, capsys):
    from visualize import attention

    out = tmp_path / "pct.png"
    argv = ["--config", str(CONFIG), "--data-root", str(data_root), "--ckpt", str(converted), "--index", "0",
            "--query", "3", "--save", str(out), "--tile-size", "64"]  # fmt: skip
    assert attention.main(argv) == 0
    assert "checkpoint pct.ckpt" in capsys.readouterr().out
    assert out.stat().st_size > 0
