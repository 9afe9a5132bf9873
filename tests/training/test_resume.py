"""Ctrl-C in the middle of an epoch, then ``--ckpt_path last``: training carries on where it stopped."""

import csv
import json
import subprocess
import sys

import torch

from tests.training.conftest import REPO, tiny_config

STEPS_PER_EPOCH = 6  # 48 synthetic training shapes, batch 8, drop_last
EPOCHS = 2
STOP_AT = 8  # the third optimiser step of epoch 1


def run(config, *args):
    return subprocess.run(
        [sys.executable, "-m", "pointea.training.cli", "fit", "--config", str(config), *args],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_interrupted_fit_resumes_from_last_without_losing_or_repeating_steps(tmp_path, classification_root):
    log = tmp_path / "log.jsonl"
    callbacks = [{"class_path": "tests.training.callbacks.TrainingLog", "init_args": {"path": str(log)}}]
    interrupted = tiny_config(
        tmp_path / "interrupted.yaml", "classification", classification_root, tmp_path / "run", max_epochs=EPOCHS,
        callbacks=[*callbacks, {"class_path": "tests.training.callbacks.InterruptAt", "init_args": {"step": STOP_AT}}],
    )  # fmt: skip
    first = run(interrupted)
    assert first.returncode == 1, first.stderr[-2000:]
    assert "Detected KeyboardInterrupt" in first.stderr + first.stdout

    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, weights_only=True)
    assert checkpoint["global_step"] == STOP_AT and checkpoint["epoch"] == STOP_AT // STEPS_PER_EPOCH
    assert checkpoint["lr_schedulers"][0]["last_epoch"] == 1  # one epoch of the cosine schedule done

    resumed_config = tiny_config(
        tmp_path / "resumed.yaml", "classification", classification_root, tmp_path / "run", max_epochs=EPOCHS,
        callbacks=callbacks,
    )  # fmt: skip
    second = run(resumed_config, "--ckpt_path", "last")
    assert second.returncode == 0, second.stderr[-2000:]

    records = [json.loads(line) for line in log.read_text().splitlines()]
    starts = [r for r in records if r["event"] == "start"]
    steps = [r["global_step"] for r in records if r["event"] == "step"]
    assert steps == list(range(1, EPOCHS * STEPS_PER_EPOCH + 1))  # nothing lost, nothing done twice
    resumed_batches = [r["batch"] for r in records if r["event"] == "step" and r["global_step"] > STOP_AT]
    assert resumed_batches == list(range(STOP_AT % STEPS_PER_EPOCH, STEPS_PER_EPOCH))  # the epoch's remaining batches
    resumed = starts[1]
    assert (resumed["global_step"], resumed["epoch"]) == (STOP_AT, 1)
    momentum = [s["momentum_buffer"].double().sum().item() for s in checkpoint["optimizer_states"][0]["state"].values()]
    assert resumed["momentum"] == momentum and any(m != 0 for m in momentum)  # SGD momentum carried over
    weights = sum(v.double().sum().item() for k, v in checkpoint["state_dict"].items()
                  if k.startswith("network.") and v.is_floating_point() and "running" not in k)  # fmt: skip
    assert abs(resumed["weights"] - weights) < 1e-6
    assert resumed["lr"] == checkpoint["optimizer_states"][0]["param_groups"][0]["lr"]
    final = torch.load(last, weights_only=True)
    assert (final["global_step"], final["epoch"]) == (EPOCHS * STEPS_PER_EPOCH, EPOCHS - 1)  # the final epoch's end
    assert logged_loss_steps(tmp_path / "run") == list(range(EPOCHS * STEPS_PER_EPOCH))  # the log carries on too


def logged_loss_steps(run_dir):
    """The CSV logs' step labels of the train/loss rows, over all versions (one per process)."""
    steps = []
    for metrics in sorted((run_dir / "csv").glob("version_*/metrics.csv")):
        with metrics.open() as handle:
            steps += [int(row["step"]) for row in csv.DictReader(handle) if row["train/loss"]]
    return steps


def test_a_ctrl_c_inside_a_training_step_resumes_with_contiguous_log_steps(tmp_path, classification_root):
    """Issue 11, case 8: after a mid-epoch resume the CSV log skipped a step and labelled every later
    row one too high. A Ctrl-C most likely lands inside a training step: here after the backward pass
    of optimiser step 8, before the optimiser applies it, so step 8 is done again after resuming."""
    interrupted = tiny_config(
        tmp_path / "interrupted.yaml", "classification", classification_root, tmp_path / "run", max_epochs=EPOCHS,
        callbacks=[{"class_path": "tests.training.callbacks.InterruptInBackward", "init_args": {"step": STOP_AT}}],
    )  # fmt: skip
    first = run(interrupted)
    assert first.returncode == 1 and "Detected KeyboardInterrupt" in first.stderr + first.stdout, first.stderr[-2000:]
    assert torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == STOP_AT - 1
    assert logged_loss_steps(tmp_path / "run") == list(range(STOP_AT - 1))

    resumed = tiny_config(tmp_path / "resumed.yaml", "classification", classification_root, tmp_path / "run",
                          max_epochs=EPOCHS)  # fmt: skip
    second = run(resumed, "--ckpt_path", "last")
    assert second.returncode == 0, second.stderr[-2000:]
    assert logged_loss_steps(tmp_path / "run") == list(range(EPOCHS * STEPS_PER_EPOCH))  # no gap, no shift
