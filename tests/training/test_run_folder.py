"""A run folder keeps one run (issue 19): a new ``fit`` into a finished run's folder is refused, a
full disk while writing a checkpoint is one line and keeps the previous checkpoint, and a plain
``fit`` prints neither the lock nor Lightning's tips."""

from __future__ import annotations

import resource
import subprocess
import sys

import pytest
import torch

from pointea.training import cli_main
from tests.training.conftest import REPO, tiny_config


def one_line_error(args) -> str:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(args)
    message = exit_info.value.code
    assert isinstance(message, str) and message.startswith("pointea: error: ") and "\n" not in message, message
    return message


def test_a_new_fit_into_a_finished_runs_folder_is_refused(tmp_path, classification_root, capfd, caplog):
    config = tiny_config(tmp_path / "config.yaml", "classification", classification_root, tmp_path / "run")
    with caplog.at_level("INFO"):
        cli_main(["fit", "--config", str(config)])
    printed = capfd.readouterr()
    said = printed.out + printed.err + caplog.text
    assert "Trainer.fit` stopped" in said  # Lightning's info lines are all there ...
    assert "lock" not in said  # ... but an uncontested lock is not news
    assert "litlogger" not in said and "litmodels" not in said and "Tip:" not in said
    caplog.clear()
    folder = tmp_path / "run" / "checkpoints"
    before = {path.name: path.read_bytes() for path in folder.glob("*.ckpt")}
    assert sorted(before) == ["best-epoch=000.ckpt", "last.ckpt"]

    message = one_line_error(["fit", "--config", str(config)])
    assert message == (
        f"pointea: error: {folder} holds the checkpoints of an earlier run (best-epoch=000.ckpt, last.ckpt): resume it "
        "with --ckpt_path last, start afresh with --overwrite (deletes them), or train into another "
        "--trainer.default_root_dir"
    )
    assert {path.name: path.read_bytes() for path in folder.glob("*.ckpt")} == before  # untouched
    # the same refusal when `--ckpt_path last` finds no last.ckpt but other checkpoints are there
    (folder / "last.ckpt").rename(folder / "kept.ckpt")
    assert "holds the checkpoints of an earlier run (best-epoch=000.ckpt, kept.ckpt)" in one_line_error(
        ["fit", "--config", str(config), "--ckpt_path", "last"]
    )
    (folder / "kept.ckpt").rename(folder / "last.ckpt")

    cli_main(["fit", "--config", str(config), "--ckpt_path", "last", "--trainer.max_epochs", "2"])  # resuming is fine
    assert torch.load(folder / "last.ckpt", weights_only=True)["epoch"] == 1
    with caplog.at_level("INFO"):
        cli_main(["fit", "--config", str(config), "--overwrite"])  # so is starting afresh, said out loud
    assert "--overwrite: deleted the earlier run's 2 checkpoints" in caplog.text
    assert torch.load(folder / "last.ckpt", weights_only=True)["epoch"] == 0
    assert sorted(path.name for path in folder.glob("*.ckpt")) == ["best-epoch=000.ckpt", "last.ckpt"]


@pytest.mark.slow
def test_a_full_disk_while_writing_a_checkpoint_is_one_line_and_keeps_the_previous_one(tmp_path, classification_root):
    config = tiny_config(tmp_path / "config.yaml", "classification", classification_root, tmp_path / "run")
    cli_main(["fit", "--config", str(config)])
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    limit = len(before) // 2  # the logs fit, a checkpoint does not

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    resumed = subprocess.run(
        [sys.executable, "-m", "pointea.training.cli", "fit", "--config", str(config), "--ckpt_path", "last",
         "--trainer.max_epochs", "2"],
        cwd=REPO, capture_output=True, text=True, timeout=600, preexec_fn=small_disk,
    )  # fmt: skip
    assert resumed.returncode == 1, resumed.stderr[-3000:]
    assert "Traceback" not in resumed.stderr
    line = resumed.stderr.strip().splitlines()[-1]
    assert line.startswith(f"pointea: error: cannot write checkpoint {last.parent}") and "File too large" in line, line
    assert last.read_bytes() == before  # the previous checkpoint, intact
    assert not [p.name for p in last.parent.iterdir() if p.name.startswith(".")]  # no temporary left behind
