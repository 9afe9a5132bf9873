"""A diverged run must not report a result (issue 11, case 2): ``pointea fit`` with SGD lr 1e12
used to exit 0 with ``train/loss nan`` and ``val/acc 0.625``, and a checkpoint with NaN weights
tested as 0.625 (NaN logits all argmax to class 0)."""

import re

import pytest
import pytorch_lightning as pl
import torch

from pointea import PCTClassifier, PointEncoder
from pointea.models.checkpoint import CheckpointError
from pointea.training import PointCloudClassifier, cli_main
from pointea.training.divergence import TrainingDiverged
from tests.conftest import TINY_ENCODER
from tests.training.conftest import tiny_config

EXPLODE = ["--model.init_args.optimizer", "torch.optim.SGD", "--model.init_args.optimizer.lr", "1e12"]


def fit_error(config, *args):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["fit", "--config", str(config), *args])
    message = exit_info.value.code
    assert isinstance(message, str) and "\n" not in message, message  # exit code 1, one line
    return message


def test_a_diverging_fit_stops_at_the_first_nan_with_one_line(tmp_path, classification_root):
    config = tiny_config(tmp_path / "c.yaml", "classification", classification_root, tmp_path / "run", max_epochs=3)
    message = fit_error(config, *EXPLODE)
    match = re.fullmatch(
        r"pointea: error: training diverged at epoch 0, step (\d+): the (loss is nan|gradient of \S+ is not finite); "
        r"last finite loss ([\d.]+);.*no checkpoint of the diverged model was written",
        message,
    )
    assert match, message
    assert float(match.group(3)) > 0
    assert not list((tmp_path / "run").glob("checkpoints/*.ckpt"))  # nothing to report a result from


def test_a_run_that_diverges_later_keeps_its_finite_best_and_stops(tmp_path, classification_root, caplog):
    callbacks = [{"class_path": "tests.training.callbacks.LearningRateAt", "init_args": {"epoch": 1, "lr": 1e12}}]
    config = tiny_config(tmp_path / "c.yaml", "classification", classification_root, tmp_path / "run", max_epochs=3,
                         callbacks=callbacks)  # fmt: skip
    message = fit_error(config)
    assert message.startswith("pointea: error: training diverged at epoch 1, step ")
    folder = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in folder.glob("*.ckpt")) == ["best-epoch=000.ckpt", "last.ckpt"]  # epoch 0's only
    for path in folder.glob("*.ckpt"):
        state = torch.load(path, weights_only=True)["state_dict"]
        assert all(v.isfinite().all() for v in state.values() if v.is_floating_point())
    cli_main(["test", "--config", str(config), "--ckpt_path", "best"])
    assert "pointea: --ckpt_path best is " + str(folder / "best-epoch=000.ckpt") in caplog.text


def nan_checkpoint(source, target):
    checkpoint = torch.load(source, weights_only=True)
    weight = next(k for k in checkpoint["state_dict"] if k.endswith("linear.weight"))
    checkpoint["state_dict"][weight][0, 0] = float("nan")
    torch.save(checkpoint, target)
    return weight


def test_a_checkpoint_with_nan_weights_is_refused_everywhere(classification_run, tmp_path):
    bad = tmp_path / "nan.ckpt"
    weight = nan_checkpoint(classification_run.parent / "run" / "checkpoints" / "last.ckpt", bad)
    for network in (PCTClassifier, PointEncoder):
        with pytest.raises(CheckpointError, match=rf"holds non-finite weights \(NaN or Inf\) in 1 tensor\(s\), e.g. {weight}"):
            network.from_checkpoint(bad)
    for command in ("test", "validate", "predict"):
        with pytest.raises(SystemExit) as exit_info:
            cli_main([command, "--config", str(classification_run), "--ckpt_path", str(bad)])
        assert exit_info.value.code.startswith(f"pointea: error: {bad} holds non-finite weights")
    with pytest.raises(SystemExit, match="non-finite weights"):  # nor can a run resume from it
        cli_main(["fit", "--config", str(classification_run), "--ckpt_path", str(bad)])


def module_on_a_trainer():
    module = PointCloudClassifier(PCTClassifier(num_classes=3, encoder=PointEncoder(**TINY_ENCODER), hidden_channels=(8,)))
    module.trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    return module


def test_a_non_finite_gradient_stops_before_the_optimiser_step():
    module = module_on_a_trainer()
    module.on_before_backward(torch.tensor(1.25))
    for p in module.parameters():
        p.grad = torch.zeros_like(p)
    module.on_before_optimizer_step(None)  # all finite: nothing happens
    module.network.head[-1].weight.grad[1, 2] = float("inf")
    with pytest.raises(TrainingDiverged, match=r"step 1: the gradient of network.head.2.weight is not finite; last finite loss 1.25"):
        module.on_before_optimizer_step(None)


def test_non_finite_outputs_never_become_a_metric():
    module = module_on_a_trainer()
    assert module.check_finite_output(torch.ones(2, 3)).shape == (2, 3)
    with pytest.raises(TrainingDiverged, match="logits are not finite .*no metric is reported"):
        module.check_finite_output(torch.tensor([[0.0, float("nan"), 1.0]]))


def test_a_checkpoint_of_non_finite_weights_is_never_written():
    module = module_on_a_trainer()
    state = module.state_dict()
    state["network.head.2.bias"] = torch.tensor([0.0, float("nan"), 0.0])
    with pytest.raises(TrainingDiverged, match="weight network.head.2.bias is not finite; the checkpoint was not written"):
        module.on_save_checkpoint({"state_dict": state})
