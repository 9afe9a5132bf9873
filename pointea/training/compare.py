"""``pointea-compare``: two configs, several seeds each, one report with the spread.

    pointea-compare configs/demo.yaml configs/demo_pct.yaml --seeds 3 --votes 10 --out docs/results/demo
    pointea-compare A.yaml B.yaml --seeds 3 --out docs/results/NAME --trainer.max_epochs 5 --trainer.devices 2

Every config runs with seeds ``0 .. seeds-1`` (``--seed_everything``), each seed in its own run
folder ``<runs>/<label>/seed<S>`` (``trainer.default_root_dir``; ``--runs`` defaults to
``runs/compare/<name of --out>``), through the real ``pointea`` CLI in a fresh Python process per
run (:mod:`pointea.training.compare_run`), so each run's peak memory is its own. Runs go one after
another, seeds interleaved (A0, B0, A1, ...); on a GPU machine pass Lightning's trainer options
(``--trainer.accelerator gpu --trainer.devices 4``) and each run uses them. Options after the two
configs that ``pointea-compare`` does not know go to every ``pointea fit`` and ``test``. Under DDP
the tests run on every rank too; Lightning's DistributedSampler then repeats a few test clouds when
the test set does not divide evenly over the ranks, so the metrics can differ slightly from one device.

The report, ``<out>.md`` and ``<out>.json``: per config, the mean +- sample standard deviation
(n - 1) and min / max over seeds of the task's test metrics (overall accuracy and mean class
accuracy, or instance and class mIoU), for the last and the best checkpoint, without voting and
with ``--votes``; parameters, GFLOPs per cloud, seconds per epoch and peak memory; and every run
on its own line. A run that fails or diverges (a NaN or infinite loss or test metric) is shown as
failed with its reason, never as a number; a config with a failed run gets no mean; and the
command exits with status 1. Configs of different tasks are refused before any training, and so
are options for every run that would swap what they train (``--config``, ``--model``), a test
with no batches (``--trainer.limit_test_batches 0``) and an ``--out`` that cannot be written; a
run whose test logged no metric (such a limit in a config) is a failed run. The report is written
atomically.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pointea.errors import CompareError, UsageError
from pointea.io.atomic import atomic_write
from pointea.io.writable import check_out_folder
from pointea.training.compare_run import RESULT_FILE

__all__ = ["CompareError", "TEST_METRICS", "config_task", "spread", "summarize", "write_report", "main"]

#: The headline test metrics of each task, as logged, with the report's names.
TEST_METRICS = {
    "classification": {"test/acc": "OA", "test/mean_class_acc": "mAcc"},
    "part_segmentation": {"test/instance_miou": "instance mIoU", "test/class_miou": "class mIoU"},
    "normal_estimation": {
        "test/mean_angle": "mean angle (deg)",
        "test/median_angle": "median angle (deg)",
        "test/under_10": "< 10 deg",
        "test/under_30": "< 30 deg",
        "test/cosine_distance": "cosine distance",
    },
}
#: Metrics reported as they are logged (degrees, distances), not as percentages.
UNSCALED_METRICS = frozenset({"test/mean_angle", "test/median_angle", "test/cosine_distance"})
#: Options ``pointea-compare`` sets for every run itself.
OWNED_OPTIONS = ("--seed_everything", "--trainer.default_root_dir", "--ckpt_path", "--model.init_args.votes")
#: Options that would swap what a run trains past the same-task check (a config, a model class).
SWAPPING_OPTIONS = ("--config", "-c", "--model", "--model.class_path", "--data", "--data.class_path")


@dataclass(frozen=True)
class Compared:
    """One config of the comparison: its file, its label in the report, its task."""

    path: str
    label: str
    task: str


def config_task(path: str | Path) -> str:
    """The task (``"classification"`` or ``"part_segmentation"``) of the model a config trains."""
    path = Path(path)
    if not path.is_file():
        raise CompareError(f"{path}: no such config file")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise CompareError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    class_path = (config or {}).get("model", {}).get("class_path") if isinstance(config, dict) else None
    if not isinstance(class_path, str) or "." not in class_path:
        raise CompareError(f"{path}: expected model.class_path naming a pointea training module")
    module_name, _, name = class_path.rpartition(".")
    try:
        task = getattr(importlib.import_module(module_name), name).TASK
    except (ImportError, AttributeError):
        raise CompareError(f"{path}: model.class_path {class_path} is not a pointea training module") from None
    if task not in TEST_METRICS:
        raise CompareError(f"{path}: cannot compare task {task!r}")
    return task


def _labels(paths: list[str]) -> list[str]:
    stems = [Path(p).stem for p in paths]
    return stems if len(set(stems)) == len(stems) else [f"{c}-{s}" for c, s in zip("AB", stems)]


def spread(values: list[float]) -> dict[str, Any]:
    """Mean, sample standard deviation (n - 1; None for one value), min, max and the values."""
    return {
        "n": len(values),
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else None,
        "min": min(values),
        "max": max(values),
        "values": values,
    }


def summarize(task: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The spread over seeds of one config's runs: ``{"status", "failed", "metrics", ...}``.

    ``metrics[checkpoint][votes][metric]`` holds n, mean, std (sample, n - 1; ``None`` for one
    run), min, max and the per-seed values, only when every run is ok; otherwise ``status`` is
    ``"failed"`` and ``failed`` lists the seeds that failed with their reasons.
    """
    failed = [{"seed": r["seed"], "status": r["status"], "reason": r["reason"]} for r in runs if r["status"] != "ok"]
    summary: dict[str, Any] = {"status": "failed" if failed or not runs else "ok", "failed": failed}
    if summary["status"] != "ok":
        return summary
    metrics: dict[str, Any] = {}
    for checkpoint in ("last", "best"):
        for test in runs[0]["tests"][checkpoint]:
            votes = test["votes"]
            per_run = [next(t for t in r["tests"][checkpoint] if t["votes"] == votes)["metrics"] for r in runs]
            metrics.setdefault(checkpoint, {})[str(votes)] = {
                name: spread([m[name] for m in per_run]) for name in TEST_METRICS[task]
            }
        metrics[checkpoint]["epoch"] = spread([float(r["checkpoints"][checkpoint]["epoch"]) for r in runs])
    summary["metrics"] = metrics
    for key in ("seconds_per_epoch", "peak_rss_mib"):
        summary[key] = spread([r[key] for r in runs])
    cuda = [r["peak_cuda_mib"] for r in runs if r.get("peak_cuda_mib") is not None]
    summary["peak_cuda_mib"] = spread(cuda) if cuda else None
    summary["parameters"] = runs[0]["parameters"]
    summary["gflops"] = runs[0]["gflops"]
    return summary


def _percent(stats: dict[str, Any], name: str = "") -> str:
    if name in UNSCALED_METRICS:
        std = "n/a" if stats["std"] is None else f"{stats['std']:.3f}"
        return f"{stats['mean']:.3f} +- {std} ({stats['min']:.3f} / {stats['max']:.3f})"
    std = "n/a" if stats["std"] is None else f"{100 * stats['std']:.1f}"
    return f"{100 * stats['mean']:.1f} +- {std} ({100 * stats['min']:.1f} / {100 * stats['max']:.1f})"


def _plain(stats: dict[str, Any] | None, digits: int = 1) -> str:
    if stats is None:
        return "n/a"
    std = "n/a" if stats["std"] is None else f"{stats['std']:.{digits}f}"
    return f"{stats['mean']:.{digits}f} +- {std}"


def _markdown(report: dict[str, Any]) -> str:
    task, names = report["task"], TEST_METRICS[report["task"]]
    votes = report["votes"]
    lines = [f"# {report['title']}", ""]
    lines += [
        f"`{report['command']}`",
        "",
        f"Task: {task}. Seeds: {', '.join(map(str, report['seeds']))}, each a separate run. Cells are mean +- "
        "sample standard deviation over the seeds (n - 1), then (min / max), in % (angles in degrees and cosine "
        "distances as they are). *last*: the checkpoint at the "
        "end of training; *best*: the checkpoint with the best validation metric (on ModelNet40 and its subsets, "
        "validation runs on the test split, so *best* is chosen on test and flatters). Voting: "
        f"{votes} passes of randomly scaled clouds (1 = none). Seconds per epoch: wall clock of each training "
        "epoch, its validation included, averaged over the epochs (it follows the machine's load). Peak RSS: the "
        "run process's maximum resident memory when `fit` returns (imports and data included). GFLOPs: one "
        "forward pass on one cloud of the data module's `num_points`.",
        f"Machine: {report['machine']}; {report['date']}.",
        "",
    ]
    header = "| config | checkpoint | votes | " + " | ".join(names.values()) + " |"
    lines += [header, "|" + "---|" * (3 + len(names))]
    for config in report["configs"]:
        summary = config["summary"]
        if summary["status"] != "ok":
            lines.append(f"| {config['label']} | - | - | " + " | ".join(["failed"] * len(names)) + " |")
            continue
        for checkpoint in ("last", "best"):
            for vote_key, stats in summary["metrics"][checkpoint].items():
                if vote_key == "epoch":
                    continue
                cells = " | ".join(_percent(stats[name], name) for name in names)
                lines.append(f"| {config['label']} | {checkpoint} | {vote_key} | {cells} |")
    lines += ["", "| config | parameters | GFLOPs per cloud | seconds per epoch | peak RSS (MiB) | peak CUDA (MiB) "
              "| best epoch |", "|---|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for config in report["configs"]:
        summary = config["summary"]
        if summary["status"] != "ok":
            lines.append(f"| {config['label']} | failed | | | | | |")
            continue
        lines.append(
            f"| {config['label']} | {summary['parameters']:,} | {summary['gflops']:.3f} | "
            f"{_plain(summary['seconds_per_epoch'])} | {_plain(summary['peak_rss_mib'], 0)} | "
            f"{_plain(summary['peak_cuda_mib'], 0)} | {_plain(summary['metrics']['best']['epoch'])} |"
        )
    lines += ["", "Every run (test metrics in %, angles in degrees; no voting / with voting):", ""]
    lines += ["| config | seed | status | " + " | ".join(f"last {n}" for n in names.values()) + " | "
              + " | ".join(f"best {n}" for n in names.values()) + " | s/epoch | epochs |",
              "|" + "---|" * (5 + 2 * len(names))]  # fmt: skip
    for config in report["configs"]:
        for run in config["runs"]:
            if run["status"] != "ok":
                cells = " | ".join(["failed"] * (2 * len(names)))
                lines.append(f"| {config['label']} | {run['seed']} | {run['status']}: {run['reason']} | {cells} | | |")
                continue
            cells = []
            for checkpoint in ("last", "best"):
                for name in names:
                    scale = 1 if name in UNSCALED_METRICS else 100
                    values = [f"{scale * t['metrics'][name]:.1f}" for t in run["tests"][checkpoint]]
                    cells.append(" / ".join(values))
            lines.append(
                f"| {config['label']} | {run['seed']} | ok | {' | '.join(cells)} | {run['seconds_per_epoch']:.1f} "
                f"| {run['epochs']} |"
            )
    failed = [(c["label"], r) for c in report["configs"] for r in c["runs"] if r["status"] != "ok"]
    if failed:
        lines += ["", "**Failed runs** (a config with a failed run gets no mean):", ""]
        lines += [f"- {label} seed {run['seed']}: {run['status']}: {run['reason']}" for label, run in failed]
    lines += ["", "Configs: " + ", ".join(f"{c['label']} = `{c['path']}`" for c in report["configs"]) + ".",
              f"Run folders: `{report['runs']}`. Built by `pointea-compare` (pointea/training/compare.py).",
              ""]  # fmt: skip
    return "\n".join(lines)


def write_report(report: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """Write ``<out>.md`` and ``<out>.json``; return their paths."""
    out.parent.mkdir(parents=True, exist_ok=True)
    markdown, data = out.with_suffix(".md"), out.with_suffix(".json")
    with atomic_write(markdown, "w") as handle:
        handle.write(_markdown(report))
    with atomic_write(data, "w") as handle:
        handle.write(json.dumps(report, indent=2) + "\n")
    return markdown, data


def _machine() -> str:
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    return f"{platform.node() or 'host'}, {device}, torch {torch.__version__}, Python {platform.python_version()}"


def _run(config: Compared, seed: int, root: Path, votes: int, overrides: list[str]) -> dict[str, Any]:
    """One run in a fresh process; its record (a failed one when the process left none)."""
    root.mkdir(parents=True)
    command = [sys.executable, "-m", "pointea.training.compare_run", "--config", config.path, "--seed", str(seed),
               "--root", str(root), "--votes", str(votes), "--", *overrides]  # fmt: skip
    log = root / "log.txt"
    with log.open("w") as output:
        status = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT).returncode
    result = root / RESULT_FILE
    if result.is_file():
        record = json.loads(result.read_text())
    else:
        tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        reason = f"exit status {status}" + (f": {tail[-1].strip()}" if tail else "")
        record = {"config": config.path, "seed": seed, "root": str(root), "status": "failed", "reason": reason}
    if status != 0 and record["status"] == "ok":
        record.update(status="failed", reason=f"exit status {status} (see {log})")
    return record


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pointea-compare",
        allow_abbrev=False,
        description="Train two configs with several seeds each and report the spread of their test metrics.",
        epilog="Other options (e.g. --trainer.max_epochs 5) go to every `pointea fit` and `pointea test`.",
    )
    parser.add_argument("config_a")
    parser.add_argument("config_b")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per config: 0 .. seeds-1 (default 3)")
    parser.add_argument("--votes", type=int, default=1, help="also test with this many voting passes (default 1: none)")
    parser.add_argument("--out", default="runs/compare/report", help="report path without suffix: <out>.md, <out>.json")
    parser.add_argument("--runs", help="folder of the run folders (default runs/compare/<name of --out>)")
    parser.add_argument("--title", help="the report's heading; say 'synthetic' or 'real subset' where it applies")
    return parser


def _prepare(args: argparse.Namespace, overrides: list[str]) -> tuple[str, list[Compared], Path]:
    """Check everything that can be checked before training; raise :class:`CompareError`."""
    if args.seeds < 1:
        raise CompareError(f"--seeds must be at least 1, got {args.seeds}")
    if args.votes < 1:
        raise CompareError(f"--votes must be at least 1, got {args.votes}")
    names = [o.split("=", 1)[0] for o in overrides]
    owned = [name for name in names if name in OWNED_OPTIONS]
    if owned:
        raise CompareError(f"{owned[0]} is set by pointea-compare for every run; leave it out")
    swapping = [name for name in names if name in SWAPPING_OPTIONS]
    if swapping:
        raise CompareError(
            f"{swapping[0]} among the options for every run would change what the two configs train, past the "
            "same-task check: put it in the configs themselves"
        )
    limit = _option_value(overrides, "--trainer.limit_test_batches")
    if limit is not None and limit.strip() in ("0", "0.0", "0.", ".0"):
        raise CompareError("--trainer.limit_test_batches 0 leaves the tests no batch: there would be no metric to compare")
    out = Path(args.out)
    try:
        check_out_folder(out.parent, f"--out {out}: its folder {out.parent}")
    except UsageError as error:
        raise CompareError(str(error)) from None
    if out.with_suffix(".md").is_dir() or out.with_suffix(".json").is_dir():
        raise CompareError(f"--out {out}: {out.with_suffix('.md')} or .json is a folder; the report needs those names")
    paths = [args.config_a, args.config_b]
    tasks = [config_task(p) for p in paths]
    if tasks[0] != tasks[1]:
        raise CompareError(
            f"{paths[0]} trains {tasks[0]} but {paths[1]} trains {tasks[1]}: compare configs of one task"
        )
    configs = [Compared(p, label, t) for p, label, t in zip(paths, _labels(paths), tasks)]
    runs = Path(args.runs) if args.runs else Path("runs/compare") / Path(args.out).name
    for config in configs:
        for seed in range(args.seeds):
            folder = runs / config.label / f"seed{seed}"
            if folder.exists():
                raise CompareError(f"{folder} exists: runs never share a folder; remove it or choose another --runs")
    return tasks[0], configs, runs


def _option_value(overrides: list[str], name: str) -> str | None:
    """The value given to option ``name`` among ``overrides`` (``--name value`` or ``--name=value``), last wins."""
    value = None
    for i, option in enumerate(overrides):
        if option == name and i + 1 < len(overrides):
            value = overrides[i + 1]
        elif option.startswith(f"{name}="):
            value = option.split("=", 1)[1]
    return value


def _check_tests(task: str, record: dict[str, Any]) -> dict[str, Any]:
    """A run's record, marked failed when a test logged none of the task's metrics (a test with no
    batches, e.g. ``limit_test_batches: 0`` in a config)."""
    if record["status"] != "ok":
        return record
    for checkpoint, tests in record["tests"].items():
        for test in tests:
            missing = [name for name in TEST_METRICS[task] if name not in test["metrics"]]
            if missing:
                record.update(
                    status="failed",
                    reason=f"the {checkpoint} checkpoint's test logged no {missing[0]} (did it run no batch? see "
                    "trainer.limit_test_batches)",
                )
                return record
    return record


def main(argv: list[str] | None = None) -> int:
    """Run ``pointea-compare``; return the exit status (1 when a run failed or diverged)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args, overrides = _parser().parse_known_args(argv)
    try:
        task, configs, runs = _prepare(args, overrides)
    except CompareError as error:
        print(f"pointea-compare: error: {error}", file=sys.stderr)
        return 2
    records: dict[str, list[dict[str, Any]]] = {config.label: [] for config in configs}
    for seed in range(args.seeds):
        for config in configs:
            root = runs / config.label / f"seed{seed}"
            record = _check_tests(task, _run(config, seed, root, args.votes, overrides))
            records[config.label].append(record)
            if record["status"] == "ok":
                first = next(iter(TEST_METRICS[task]))
                value = record["tests"]["last"][0]["metrics"][first]
                shown = f"{value:.2f}" if first in UNSCALED_METRICS else f"{100 * value:.1f} %"
                print(f"{config.label} seed {seed}: {first} {shown} (last), "
                      f"{record['seconds_per_epoch']:.1f} s/epoch", flush=True)  # fmt: skip
            else:
                print(f"{config.label} seed {seed}: {record['status']}: {record['reason']}", flush=True)
    report = {
        "title": args.title or f"{configs[0].label} vs {configs[1].label}",
        "command": shlex.join(["pointea-compare", *argv]),
        "task": task,
        "metrics": TEST_METRICS[task],
        "seeds": list(range(args.seeds)),
        "votes": args.votes,
        "overrides": overrides,
        "runs": str(runs),
        "machine": _machine(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "configs": [
            {"label": c.label, "path": c.path, "summary": summarize(task, records[c.label]), "runs": records[c.label]}
            for c in configs
        ],
    }
    markdown, data = write_report(report, Path(args.out))
    print(f"pointea-compare: wrote {markdown} and {data}")
    failed = [f"{c['label']} seed {r['seed']}" for c in report["configs"] for r in c["runs"] if r["status"] != "ok"]
    if failed:
        print(f"pointea-compare: error: {len(failed)} run(s) failed or diverged: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
