"""``pointea-compare`` end to end on tiny synthetic configs: 2 configs x 2 seeds x 1 epoch, each run
a real ``pointea`` process; the report checked against what the runs logged, and its failure paths."""

import json
import math

import pytest
import torch
import yaml

from pointea import PCTClassifier
from pointea.models.summary import count_parameters
from pointea.training import PointeaCLI
from pointea.training.compare import main
from tests.training.conftest import tiny_config

METRICS = ("test/acc", "test/mean_class_acc")
SEEDS = (0, 1)


def read_csv_tests(run_dir):
    """Every (acc, mean class acc) pair a ``pointea test`` logged in this run folder's CSV logs."""
    found = []
    for metrics in sorted((run_dir / "csv").glob("version_*/metrics.csv")):
        lines = metrics.read_text().splitlines()
        header = lines[0].split(",")
        if "test/acc" not in header:
            continue
        for line in lines[1:]:
            row = dict(zip(header, line.split(",")))
            found.append(tuple(float(row[name]) for name in METRICS))
    return sorted(found)


@pytest.fixture(scope="module")
def comparison(classification_root, tmp_path_factory):
    """external vs offset, seeds 0 and 1, 1 epoch, 2 votes; returns (exit status, folder, report)."""
    folder = tmp_path_factory.mktemp("compare")
    a = tiny_config(folder / "external.yaml", "classification", classification_root, folder / "unused")
    b = tiny_config(folder / "offset.yaml", "classification", classification_root, folder / "unused",
                    attention="offset")  # fmt: skip
    # the last two options are not pointea-compare's: they pass through to every pointea command
    argv = [str(a), str(b), "--seeds", "2", "--votes", "2", "--out", str(folder / "report"),
            "--runs", str(folder / "runs"), "--trainer.max_epochs", "1",
            "--data.init_args.batch_size", "6"]  # fmt: skip
    status = main(argv)
    return status, folder, json.loads((folder / "report.json").read_text())


def test_every_config_and_seed_ran_in_its_own_folder(comparison):
    status, folder, report = comparison
    assert status == 0
    assert [c["label"] for c in report["configs"]] == ["external", "offset"]
    roots = set()
    for config in report["configs"]:
        assert [run["seed"] for run in config["runs"]] == list(SEEDS)
        for run in config["runs"]:
            assert run["status"] == "ok" and run["reason"] is None
            root = folder / "runs" / config["label"] / f"seed{run['seed']}"
            assert run["root"] == str(root) and (root / "checkpoints" / "last.ckpt").is_file()
            roots.add(run["root"])
            assert run["epochs"] == 1 and run["seconds_per_epoch"] > 0 and run["peak_rss_mib"] > 100
            assert [t["votes"] for t in run["tests"]["last"]] == [1, 2] == [t["votes"] for t in run["tests"]["best"]]
            last = torch.load(run["checkpoints"]["last"]["path"], weights_only=True)
            assert last["global_step"] == 48 // 6  # the --data.init_args.batch_size override reached the fit
    assert len(roots) == 4
    assert (folder / "report.md").is_file()


def test_report_numbers_are_the_metrics_the_runs_logged(comparison):
    _, folder, report = comparison
    for config in report["configs"]:
        for run in config["runs"]:
            tests = [t for checkpoint in ("last", "best") for t in run["tests"][checkpoint]]
            reported = sorted(tuple(t["metrics"][m] for m in METRICS) for t in tests)
            logged = read_csv_tests(folder / "runs" / config["label"] / f"seed{run['seed']}")
            assert len(logged) == 4
            for logged_pair, reported_pair in zip(logged, reported):
                assert logged_pair == pytest.approx(reported_pair, rel=1e-6)


def test_a_reported_metric_is_reproduced_by_a_fresh_pointea_test(comparison):
    _, folder, report = comparison
    config = report["configs"][1]  # offset, seed 1, last checkpoint, no voting
    run = config["runs"][1]
    cli = PointeaCLI(args=["test", "--config", config["path"], "--trainer.default_root_dir", str(folder / "fresh"),
                           "--ckpt_path", run["checkpoints"]["last"]["path"],
                           "--model.init_args.votes", "1"])  # fmt: skip
    fresh = {m: float(cli.trainer.callback_metrics[m]) for m in METRICS}
    assert fresh == pytest.approx(run["tests"]["last"][0]["metrics"], rel=1e-6)


def test_mean_std_min_max_over_seeds(comparison):
    _, _, report = comparison
    markdown = (comparison[1] / "report.md").read_text()
    for config in report["configs"]:
        summary = config["summary"]
        assert summary["status"] == "ok"
        for checkpoint in ("last", "best"):
            for index, votes in enumerate(("1", "2")):
                for metric in METRICS:
                    values = [run["tests"][checkpoint][index]["metrics"][metric] for run in config["runs"]]
                    stats = summary["metrics"][checkpoint][votes][metric]
                    mean = sum(values) / 2
                    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (2 - 1))  # sample std, n - 1
                    assert stats["values"] == values and stats["n"] == 2
                    assert stats["mean"] == pytest.approx(mean) and stats["std"] == pytest.approx(std)
                    assert (stats["min"], stats["max"]) == (min(values), max(values))
                    cell = f"{100 * mean:.1f} +- {100 * std:.1f} ({100 * min(values):.1f} / {100 * max(values):.1f})"
                    assert cell in markdown
        # one epoch of a tiny network may score the same on both seeds; epoch times never repeat exactly
        seconds = [run["seconds_per_epoch"] for run in config["runs"]]
        assert seconds[0] != seconds[1]
        for key in ("seconds_per_epoch", "peak_rss_mib"):
            values = [run[key] for run in config["runs"]]
            assert summary[key]["values"] == values
            mean = sum(values) / 2
            assert summary[key]["mean"] == pytest.approx(mean)
            assert summary[key]["std"] == pytest.approx(abs(values[0] - values[1]) / math.sqrt(2))  # n - 1 = 1


def test_seeds_give_different_runs_and_sizes_are_the_networks(comparison):
    _, folder, report = comparison
    for config in report["configs"]:
        paths = [run["checkpoints"]["last"]["path"] for run in config["runs"]]
        states = [torch.load(path, weights_only=True)["state_dict"] for path in paths]
        assert states[0].keys() == states[1].keys()
        assert any(not torch.equal(states[0][k], states[1][k]) for k in states[0] if states[0][k].is_floating_point())
        for run in config["runs"]:
            run_dir = folder / "runs" / config["label"] / f"seed{run['seed']}"
            saved = run_dir / "csv" / "version_0" / "config.yaml"  # the fit's config, saved by Lightning's CLI
            assert yaml.safe_load(saved.read_text())["seed_everything"] == run["seed"]
        network = PCTClassifier.from_checkpoint(config["runs"][0]["checkpoints"]["last"]["path"])
        assert config["summary"]["parameters"] == count_parameters(network)
        assert config["summary"]["gflops"] > 0
    external, offset = (c["summary"] for c in report["configs"])
    assert external["parameters"] != offset["parameters"]


def test_failed_and_diverged_runs_are_reported_as_failed_and_exit_non_zero(classification_root, tmp_path, capsys):
    diverging = tiny_config(tmp_path / "diverging.yaml", "classification", classification_root, tmp_path / "unused")
    config = yaml.safe_load(diverging.read_text())
    config["model"]["init_args"]["optimizer"] = {"class_path": "torch.optim.SGD", "init_args": {"lr": float("inf")}}
    diverging.write_text(yaml.safe_dump(config))
    missing = tiny_config(tmp_path / "missing.yaml", "classification", tmp_path / "no_data", tmp_path / "unused")
    config = yaml.safe_load(missing.read_text())
    config["data"]["init_args"]["synthetic"] = False
    missing.write_text(yaml.safe_dump(config))
    out = tmp_path / "report"
    status = main([str(diverging), str(missing), "--seeds", "1", "--out", str(out), "--runs", str(tmp_path / "runs")])
    assert status == 1
    assert "2 run(s) failed or diverged" in capsys.readouterr().err
    report = json.loads(out.with_suffix(".json").read_text())
    (diverged,), (failed,) = (c["runs"] for c in report["configs"])
    assert diverged["status"] == "diverged" and "training diverged" in diverged["reason"]
    assert failed["status"] == "failed" and "no_data" in failed["reason"] and "\n" not in failed["reason"]
    for config in report["configs"]:
        assert config["summary"]["status"] == "failed" and "metrics" not in config["summary"]
        assert "tests" not in config["runs"][0]
    markdown = out.with_suffix(".md").read_text()
    rows = [line for line in markdown.splitlines() if line.startswith(("| diverging", "| missing"))]
    assert rows and all("failed" in row and "+-" not in row for row in rows)


def test_mismatched_tasks_are_refused_before_training(classification_root, tmp_path, capsys):
    a = tiny_config(tmp_path / "a.yaml", "classification", classification_root, tmp_path / "unused")
    b = tiny_config(tmp_path / "b.yaml", "part_segmentation", tmp_path / "nowhere", tmp_path / "unused")
    status = main([str(a), str(b), "--out", str(tmp_path / "report"), "--runs", str(tmp_path / "runs")])
    error = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in error
    assert error.startswith("pointea-compare: error: ") and "classification" in error and "part_segmentation" in error
    assert not (tmp_path / "runs").exists() and not (tmp_path / "report.json").exists()


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--seed_everything", "3"], "--seed_everything is set by pointea-compare"),
        (["--trainer.default_root_dir=x"], "--trainer.default_root_dir is set by pointea-compare"),
        (["--seeds", "0"], "--seeds must be at least 1"),
        (["--config", "segmentation.yaml"], "--config among the options for every run would change what the two configs train"),
        (["--model.class_path=pointea.training.PartSegmentation"], "--model.class_path among the options"),
        (["--trainer.limit_test_batches", "0"], "--trainer.limit_test_batches 0 leaves the tests no batch"),
        (["--out", "/proc/pointea/report"], "--out /proc/pointea/report: its folder /proc/pointea: cannot write there"),
        (["--out", "{tmp}/a.yaml/report"], "a.yaml is a file, expected a folder"),
    ],
)
def test_user_errors_are_one_line_before_training(classification_root, tmp_path, capsys, extra, expected):
    a = tiny_config(tmp_path / "a.yaml", "classification", classification_root, tmp_path / "unused")
    extra = [option.format(tmp=tmp_path) for option in extra]
    status = main([str(a), str(a), "--runs", str(tmp_path / "runs"), *extra])
    error = capsys.readouterr().err.strip()
    assert status == 2 and expected in error and "\n" not in error
    assert not (tmp_path / "runs").exists()  # nothing trained


@pytest.mark.slow
def test_a_test_without_batches_is_a_failed_run_not_a_crash(classification_root, tmp_path, capsys):
    a = tiny_config(tmp_path / "a.yaml", "classification", classification_root, tmp_path / "unused", limit_test_batches=0)
    out = tmp_path / "report"
    status = main([str(a), str(a), "--seeds", "1", "--out", str(out), "--runs", str(tmp_path / "runs")])
    assert status == 1 and "2 run(s) failed or diverged" in capsys.readouterr().err
    report = json.loads(out.with_suffix(".json").read_text())
    for config in report["configs"]:
        (run,) = config["runs"]
        assert run["status"] == "failed" and "test logged no test/acc" in run["reason"]
        assert config["summary"]["status"] == "failed"


def test_an_existing_run_folder_is_never_reused(classification_root, tmp_path, capsys):
    a = tiny_config(tmp_path / "a.yaml", "classification", classification_root, tmp_path / "unused")
    (tmp_path / "runs" / "A-a" / "seed0").mkdir(parents=True)
    status = main([str(a), str(a), "--seeds", "1", "--runs", str(tmp_path / "runs")])
    assert status == 2 and "runs never share a folder" in capsys.readouterr().err



def test_trainer_options_pass_through_to_ddp_runs(classification_root, tmp_path):
    """Under Lightning's DDP (2 CPU processes, gloo) every run trains and tests on both ranks, and the
    first rank alone writes the run's record."""
    a = tiny_config(tmp_path / "a.yaml", "classification", classification_root, tmp_path / "unused")
    status = main([str(a), str(a), "--seeds", "1", "--out", str(tmp_path / "report"), "--runs", str(tmp_path / "runs"),
                   "--trainer.strategy", "ddp", "--trainer.devices", "2"])  # fmt: skip
    assert status == 0
    report = json.loads((tmp_path / "report.json").read_text())
    for config in report["configs"]:
        (run,) = config["runs"]
        assert run["status"] == "ok" and set(run["tests"]["last"][0]["metrics"]) >= set(METRICS)
        log = (tmp_path / "runs" / config["label"] / "seed0" / "log.txt").read_text()
        assert "GLOBAL_RANK: 1, MEMBER: 2/2" in log
