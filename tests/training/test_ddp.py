"""``pointea fit`` under DDP on two CPU processes (gloo): validation metrics are synchronised."""

import json
import subprocess
import sys

from tests.training.conftest import REPO, tiny_config


def test_two_ranks_report_the_same_synchronised_validation_metrics(tmp_path, segmentation_root):
    metrics = tmp_path / "metrics"
    callbacks = [{"class_path": "tests.training.callbacks.RankMetrics", "init_args": {"folder": str(metrics)}}]
    config = tiny_config(tmp_path / "ddp.yaml", "part_segmentation", segmentation_root, tmp_path / "run",
                         strategy="ddp", devices=2, limit_train_batches=2, callbacks=callbacks)  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "pointea.training.cli", "fit", "--config", str(config)],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (json.loads((metrics / f"rank{r}.json").read_text()) for r in (0, 1))
    # 10 validation shapes, batch 4: each rank validated its own 5 (2 batches), not all 10 (3 batches)
    assert rank0.pop("batches") == rank1.pop("batches") == 2
    assert {"val/instance_miou", "val/class_miou", "val/point_acc", "val/loss"} <= rank0.keys()
    assert rank0 == rank1
