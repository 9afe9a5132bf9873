"""The ``pointea`` command end to end on tiny synthetic sets: fit, validate, test, predict, and
the one-line errors for bad input."""

import csv

import numpy as np
import pytest
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from pointea.data import ShapeNetPart
from pointea.models.checkpoint import CheckpointError
from pointea.training import cli_main, resolve_checkpoint_path
from tests.training.conftest import tiny_config


def run_dir(config):
    return config.parent / "run"


def one_line_error(args):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(args)
    message = exit_info.value.code
    assert isinstance(message, str) and message.startswith("pointea: error: ") and "\n" not in message, message
    return message


def test_fit_writes_best_and_last_with_the_pointea_record(classification_run):
    folder = run_dir(classification_run) / "checkpoints"
    best = sorted(folder.glob("best-*.ckpt"))
    assert len(best) == 1 and (folder / "last.ckpt").is_file()
    last = torch.load(folder / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (1, 12)  # saved at the end of epoch index 1: 2 x 6 steps
    assert last["pointea"]["task"] == "classification"
    assert last["pointea"]["network"]["args"]["num_classes"] == 12  # linked from the data module, not in the YAML
    state = next(v for k, v in last["callbacks"].items() if "'monitor': 'val/acc'" in k)
    assert state["best_model_path"] == str(best[0])
    metrics = (run_dir(classification_run) / "csv" / "version_0" / "metrics.csv").read_text()
    assert "val/acc" in metrics.splitlines()[0] and "val/mean_class_acc" in metrics.splitlines()[0]


def test_last_is_written_after_an_epoch_without_validation_and_resumes(tmp_path, classification_root):
    """With validation every second epoch, a one-epoch fit (no validation at all) still leaves a
    last.ckpt of that epoch, and ``--ckpt_path last`` carries on from it."""
    config = tiny_config(tmp_path / "config.yaml", "classification", classification_root, tmp_path / "run",
                         max_epochs=1, check_val_every_n_epoch=2)  # fmt: skip
    cli_main(["fit", "--config", str(config)])
    folder = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["last.ckpt"]  # no validation yet: no best
    last = torch.load(folder / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (0, 6) and last["pointea"]["task"] == "classification"
    longer = tiny_config(tmp_path / "longer.yaml", "classification", classification_root, tmp_path / "run",
                         max_epochs=2, check_val_every_n_epoch=2)  # fmt: skip
    cli_main(["fit", "--config", str(longer), "--ckpt_path", "last"])
    resumed = torch.load(folder / "last.ckpt", weights_only=True)
    assert (resumed["epoch"], resumed["global_step"]) == (1, 12)  # one more epoch of 6 steps, not two
    assert len(list(folder.glob("best-*.ckpt"))) == 1  # the second epoch validated


def test_best_and_last_resolve_in_a_fresh_process(classification_run, tmp_path):
    folder = run_dir(classification_run) / "checkpoints"
    fresh = ModelCheckpoint(dirpath=folder, monitor="val/acc", mode="max")  # as a new `pointea test` builds it
    assert resolve_checkpoint_path("best", fresh) == str(next(folder.glob("best-*.ckpt")))
    assert resolve_checkpoint_path("last", fresh) == str(folder / "last.ckpt")
    with pytest.raises(CheckpointError, match="no checkpoint in .*train first"):
        resolve_checkpoint_path("best", ModelCheckpoint(dirpath=tmp_path / "nothing"))


def test_test_prints_the_metrics_table_and_voting_changes_nothing_structural(classification_run, capsys):
    cli_main(["test", "--config", str(classification_run), "--ckpt_path", "best"])
    plain = capsys.readouterr().out
    assert "test/acc" in plain and "test/mean_class_acc" in plain
    cli_main(["test", "--config", str(classification_run), "--ckpt_path", "best", "--model.init_args.votes", "3"])
    assert "test/acc" in capsys.readouterr().out


def test_validate_reproduces_the_best_validation_accuracy(classification_run, capsys):
    cli_main(["validate", "--config", str(classification_run), "--ckpt_path", "best"])
    out = capsys.readouterr().out
    best = torch.load(next((run_dir(classification_run) / "checkpoints").glob("best-*.ckpt")), weights_only=True)
    state = next(v for k, v in best["callbacks"].items() if "'monitor': 'val/acc'" in k)
    line = next(line for line in out.splitlines() if line.strip().startswith("val/acc"))
    assert float(line.split()[-1]) == pytest.approx(state["current_score"].item(), abs=1e-6)


def test_segmentation_test_and_predict(segmentation_run, segmentation_root, capsys):
    cli_main(["test", "--config", str(segmentation_run), "--ckpt_path", "last"])
    out = capsys.readouterr().out
    for name in ("test/instance_miou", "test/class_miou", "test/iou/Airplane", "test/iou/Table"):
        assert name in out
    assert "test/iou/Bag" not in out  # not in the synthetic set: no NaN rows

    cli_main(["predict", "--config", str(segmentation_run), "--ckpt_path", "last"])
    predictions = np.load(run_dir(segmentation_run) / "predictions" / "predictions.npz")
    test_set = ShapeNetPart(segmentation_root, "test")
    assert predictions["index"].tolist() == list(range(len(test_set)))
    assert predictions["parts"].shape == predictions["points"].shape[:2] == (len(test_set), 128)
    first = ShapeNetPart.FIRST_PART[predictions["category"]][:, None]
    last = ShapeNetPart.LAST_PART[predictions["category"]][:, None]
    assert ((predictions["parts"] >= first) & (predictions["parts"] <= last)).all()  # only the category's parts
    assert np.array_equal(predictions["true_parts"], test_set.point_labels["parts"])
    header = (run_dir(segmentation_run) / "predictions" / "predictions.csv").read_text().splitlines()[0]
    assert header.startswith("index,file,points,resampled,category,part_")  # the columns pointea-predict writes
    rows = list(csv.DictReader((run_dir(segmentation_run) / "predictions" / "predictions.csv").open()))
    for row, category, truth in zip(rows, predictions["category"], predictions["parts"]):
        assert row["category"] == ShapeNetPart.CATEGORIES[category] and row["points"] == "128"
        own = ShapeNetPart.PARTS_PER_CATEGORY[row["category"]]
        assert [int(row[f"part_{p}"]) for p in own] == np.bincount(truth, minlength=50)[list(own)].tolist()


def test_missing_data_folder_is_one_line(tmp_path):
    config = tiny_config(tmp_path / "c.yaml", "classification", tmp_path / "no_such_folder", tmp_path / "run")
    message = one_line_error(["fit", "--config", str(config), "--data.init_args.synthetic", "false"])
    assert "ModelNet40 data not found" in message and "no_such_folder" in message


def test_checkpoint_of_the_wrong_task_is_one_line(classification_run, segmentation_run):
    wrong = run_dir(segmentation_run) / "checkpoints" / "last.ckpt"
    message = one_line_error(["test", "--config", str(classification_run), "--ckpt_path", str(wrong)])
    assert "'part_segmentation' checkpoint" in message and "PointCloudClassifier" in message


def test_corrupt_checkpoint_is_one_line(classification_run, tmp_path):
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes((run_dir(classification_run) / "checkpoints" / "last.ckpt").read_bytes()[:1000])
    message = one_line_error(["test", "--config", str(classification_run), "--ckpt_path", str(corrupt)])
    assert "corrupt" in message and str(corrupt) in message
    one_line_error(["test", "--config", str(classification_run), "--ckpt_path", str(tmp_path / "absent.ckpt")])


def test_unknown_attention_kind_names_the_argument_and_the_choices(classification_run, capsys):
    message = one_line_error(["fit", "--config", str(classification_run),
                              "--model.init_args.network.init_args.encoder.init_args.attention", "linear"])  # fmt: skip
    assert message == (
        "pointea: error: model.init_args.network.init_args.encoder.init_args.attention: Expected a "
        "typing.Literal['external', 'offset', 'self']. Got value: linear (`pointea fit --help` lists the options)"
    )
    assert capsys.readouterr().err == ""  # no usage text, no traceback before it


def test_same_seed_same_run(classification_run, tmp_path):
    again = classification_run.read_text().replace(str(run_dir(classification_run)), str(tmp_path / "run"))
    (tmp_path / "config.yaml").write_text(again)
    cli_main(["fit", "--config", str(tmp_path / "config.yaml")])
    first = torch.load(run_dir(classification_run) / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    second = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)  # seed_everything: 0 makes runs repeat exactly


def copy_run(classification_run, target):
    """A copy of the run folder and its config, pointing at the copy."""
    import shutil

    shutil.copytree(run_dir(classification_run), target / "run")
    config = target / "config.yaml"
    config.write_text(classification_run.read_text().replace(str(run_dir(classification_run)), str(target / "run")))
    return config


def test_best_in_a_copied_run_folder_is_the_copys_own(classification_run, tmp_path, caplog):
    config = copy_run(classification_run, tmp_path)
    best = next((tmp_path / "run" / "checkpoints").glob("best-*.ckpt"))
    cli_main(["test", "--config", str(config), "--ckpt_path", "best"])
    assert f"pointea: --ckpt_path best is {best}" in caplog.text  # says which file, and it is the copy's

    best.unlink()  # the copy lost its best file; the original folder still has one
    original = next((run_dir(classification_run) / "checkpoints").glob("best-*.ckpt"))
    assert original.is_file()
    message = one_line_error(["test", "--config", str(config), "--ckpt_path", "best"])
    assert message == (
        f"pointea: error: --ckpt_path best: {tmp_path / 'run' / 'checkpoints' / 'last.ckpt'} records {best.name} as "
        f"the best checkpoint, but {best.parent} has no such file (it was written as {original}); pass a checkpoint "
        "file instead"
    )  # never silently the original folder's best
