"""Training curves from a Lightning CSVLogger log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pytorch_lightning.loggers import CSVLogger

from tests.visualize.conftest import Run
from visualize.curves import find_metrics_file, group_curves, main, metric_group, read_curves


def _log_run(root: Path) -> Path:
    """A run logged by Lightning's own CSVLogger: per-step train loss, per-epoch val metrics."""
    logger = CSVLogger(str(root), name="run")
    for step in range(6):
        logger.log_metrics({"train_loss_step": 2.0 - 0.2 * step}, step=step)
        if step % 3 == 2:
            logger.log_metrics({"val_loss": 1.5 - 0.1 * step, "val_acc": 0.3 + 0.1 * step, "epoch": step // 3}, step=step)
    logger.save()
    return Path(logger.log_dir)


def test_read_curves_keeps_each_metric_on_its_own_rows(tmp_path: Path) -> None:
    run = _log_run(tmp_path)
    curves = read_curves(find_metrics_file(run))
    assert set(curves) == {"train_loss_step", "val_loss", "val_acc"}
    x, y = curves["train_loss_step"]
    np.testing.assert_array_equal(x, np.arange(6))
    np.testing.assert_allclose(y, 2.0 - 0.2 * np.arange(6))
    x, y = curves["val_acc"]
    np.testing.assert_array_equal(x, [2, 5])
    np.testing.assert_allclose(y, [0.5, 0.8])


@pytest.mark.parametrize(
    ("name", "group"),
    [("train_loss", "loss"), ("val/loss", "loss"), ("train_loss_epoch", "loss"), ("val_acc", "acc"),
     ("test/mean_class_acc", "mean_class_acc"), ("lr-SGD", "lr-SGD"), ("loss", "loss")],
)  # fmt: skip
def test_metric_group_strips_split_and_reduction(name: str, group: str) -> None:
    assert metric_group(name) == group


def test_group_curves_puts_losses_first() -> None:
    one = (np.zeros(1), np.zeros(1))
    groups = group_curves({"val_acc": one, "train_loss_step": one, "val_loss": one})
    assert groups == {"loss": ["train_loss_step", "val_loss"], "acc": ["val_acc"]}


def test_find_metrics_file_takes_the_newest_version_below_a_folder(tmp_path: Path) -> None:
    _log_run(tmp_path)
    newest = _log_run(tmp_path)
    assert find_metrics_file(tmp_path) == newest / "metrics.csv"


def test_find_metrics_file_skips_a_newer_test_only_log(tmp_path: Path) -> None:
    """``pointea test`` after ``pointea fit`` logs to a newer version with test metrics only."""
    fit = _log_run(tmp_path)
    tested = CSVLogger(str(tmp_path), name="run")
    tested.log_metrics({"test/acc": 0.9, "test/mean_class_acc": 0.8}, step=0)
    tested.save()
    assert Path(tested.log_dir) != fit
    assert find_metrics_file(tmp_path) == fit / "metrics.csv"
    only_test = tmp_path / "only_test"
    (only_test / "v").mkdir(parents=True)
    (only_test / "v" / "metrics.csv").write_text("epoch,step,test/acc\n0,0,0.9\n")
    assert find_metrics_file(only_test) == only_test / "v" / "metrics.csv"  # nothing better to show


def test_command_writes_a_png_with_one_panel_per_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    run = _log_run(tmp_path)
    out = tmp_path / "curves.png"
    assert main([str(run), "--save", str(out)]) == 0
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape == (360, 1000, 3)  # 2 panels side by side: (2 x 5 in) by (3.2 + 0.4 in) at 100 dpi
    assert (image < 200).any() and (image == 255).any()
    assert "wrote" in capsys.readouterr().out


def test_command_missing_run_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "nope"), "--save", str(tmp_path / "x.png")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "error: run folder not found" in err and "Traceback" not in err


def test_curves_of_a_pointea_fit_run(tmp_path: Path, classification_run: Run) -> None:
    """The run folder ``pointea fit`` logs to (its CSV logger's ``csv/version_N`` below it)."""
    run_dir = classification_run.ckpt.parents[1]
    curves = read_curves(find_metrics_file(run_dir))
    assert {"train/loss", "val/loss", "val/acc"} <= set(curves)
    assert {"loss", "acc"} <= set(group_curves(curves))
    assert main([str(run_dir), "--save", str(tmp_path / "curves.png")]) == 0
