"""The one predictions writer: ``pointea predict`` and ``pointea-predict`` write the same columns,
every file atomically, and a new task is one class."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pointea.io.predictions import (
    TASK_OUTPUTS,
    CloudPrediction,
    PerPointLabelOutputs,
    PredictionsWriter,
    task_outputs,
)
from pointea.predict.cli import main
from tests.predict.conftest import REPO


def header(path: Path) -> list[str]:
    with open(path, newline="") as handle:
        return next(csv.reader(handle))


def test_pointea_predict_and_pointea_predict_files_write_the_same_columns(classifier_checkpoint, segmenter_checkpoint, real_clouds, tmp_path, capsys):
    from pointea.training import cli_main

    np.save(tmp_path / "a.npy", real_clouds[0])
    for checkpoint, extra in ((classifier_checkpoint, []), (segmenter_checkpoint, ["--category", "Airplane"])):
        config = checkpoint.parents[2] / "config.yaml"  # the config the fixture trained with
        lightning_out, files_out = tmp_path / f"{checkpoint.parents[2].name}-lightning", tmp_path / f"{checkpoint.parents[2].name}-files"
        cli_main(["predict", "--config", str(config), "--ckpt_path", str(checkpoint),
                  "--prediction_writer.output_dir", str(lightning_out), "--prediction_writer.top_k", "3"])  # fmt: skip
        assert main([str(checkpoint), str(tmp_path / "a.npy"), "--out", str(files_out), "--top-k", "3", *extra]) == 0
        from_data_module, from_files = header(lightning_out / "predictions.csv"), header(files_out / "predictions.csv")
        assert from_data_module[:4] == from_files[:4] == ["index", "file", "points", "resampled"]
        if "--category" in extra:  # per-point counts: the parts of the categories each set holds
            assert from_files == ["index", "file", "points", "resampled", "category", "part_0", "part_1", "part_2", "part_3"]
            assert set(from_files) <= set(from_data_module) and from_data_module[4] == "category"
        else:  # the test set has labels, the files have none
            assert from_data_module == from_files + ["true_label"]
            assert from_files[4:] == ["label_1", "probability_1", "label_2", "probability_2", "label_3", "probability_3"]
    capsys.readouterr()


class _Marks(PerPointLabelOutputs):
    """A task the writer does not know yet, written as the scene and normal tasks will plug in."""

    task = "test_labels"
    suffix = "marks"
    column = "mark"

    def __init__(self, labels, **options) -> None:
        self.ids = list(range(labels["count"]))

    def label_ids(self, prediction: CloudPrediction) -> list[int]:
        return self.ids


def test_a_new_task_is_one_class(tmp_path, monkeypatch):
    monkeypatch.setitem(TASK_OUTPUTS, "test_labels", _Marks)
    writer = PredictionsWriter(tmp_path, task_outputs("test_labels", {"count": 3}))
    cloud = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    labels = np.array([0, 0, 1, 2, 2, 2, 1, 0, 0, 0])
    writer.add(CloudPrediction(0, "/data/scan.xyz", 10, True, {"labels": labels, "cloud": cloud}))
    writer.finish({"checkpoint": "x"})
    (row,) = csv.DictReader((tmp_path / "predictions.csv").open())
    assert row == {"index": "0", "file": "/data/scan.xyz", "points": "10", "resampled": "1", "mark_0": "5", "mark_1": "2", "mark_2": "3"}
    saved = np.load(tmp_path / "scan.marks.npz")
    assert np.array_equal(saved["marks"], labels) and np.array_equal(saved["points"], cloud)
    assert (tmp_path / "scan.marks.ply").is_file()
    with pytest.raises(ValueError, match="no predictions for task 'semantic'"):
        task_outputs("semantic", {})


def test_a_failed_write_keeps_the_earlier_tables(tmp_path):
    """A file-size limit hit while rewriting predictions.json leaves the earlier, complete file."""
    script = f"""
import resource, sys
import numpy as np
sys.path.insert(0, {str(REPO)!r})
from pointea.io.predictions import CloudPrediction, PredictionsWriter, task_outputs
writer = PredictionsWriter({str(tmp_path)!r}, task_outputs("classification", {{"classes": ["a", "b"]}}))
for i in range(int(sys.argv[1])):
    writer.add(CloudPrediction(i, f"cloud{{i}}.npy", 100, False, {{"probabilities": np.array([0.25, 0.75])}}))
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[2]), int(sys.argv[2])))
writer.finish({{"checkpoint": "x" * 100}})
"""
    first = subprocess.run([sys.executable, "-c", script, "2", str(1 << 20)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    before = {name: (tmp_path / name).read_bytes() for name in ("predictions.csv", "predictions.json")}
    second = subprocess.run([sys.executable, "-c", script, "3000", "4096"], capture_output=True, text=True)
    assert second.returncode == 1 and "File too large" in second.stderr
    assert {name: (tmp_path / name).read_bytes() for name in before} == before  # the earlier run's tables, intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.csv", "predictions.json"]  # no temporary left
