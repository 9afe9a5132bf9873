"""One run of ``pointea-compare``: one config with one seed, in a process of its own.

    python -m pointea.training.compare_run --config CONFIG --seed 0 --root RUN_DIR [--votes 10] [-- OVERRIDES]

Through the real ``pointea`` CLI (:class:`~pointea.training.cli.PointeaCLI`), in this process:
``fit`` with ``--seed_everything SEED --trainer.default_root_dir RUN_DIR`` and a
:class:`~pointea.training.run_monitor.RunMonitor`, then ``test`` on the last and the best
checkpoint, each without voting and, when ``--votes`` is above 1, with that many votes. The
overrides go to every one of these commands. What it found is written to ``RUN_DIR/result.json``
(see :func:`run_compared`); the process exits non-zero when the run failed or diverged.

A process per run makes the peak memory figure its own: ``peak_rss_mib`` is the process's peak
resident memory when ``fit`` returns (the imports included), ``peak_cuda_mib`` the peak CUDA memory
allocated by torch during ``fit`` when it ran on a GPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
from pathlib import Path
from typing import Any

import torch

from pointea.io.atomic import atomic_write
from pointea.models.checkpoint import read_checkpoint
from pointea.models.summary import count_flops, count_parameters
from pointea.training.checkpoint_path import last_checkpoint_path
from pointea.training.cli import PointeaCLI
from pointea.training.divergence import TrainingDiverged
from pointea.training.module import PointCloudModule
from pointea.training.run_monitor import RunMonitor

__all__ = ["RESULT_FILE", "run_compared", "main"]

#: The file a run writes into its run folder.
RESULT_FILE = "result.json"

MONITOR = f"{RunMonitor.__module__}.{RunMonitor.__name__}"


def _one_line(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        code = error.code
        return code if isinstance(code, str) else f"the pointea CLI exited with status {code} (see the run's log)"
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")


def _size_and_cost(module: PointCloudModule, num_points: int) -> dict[str, float]:
    """Parameters and GFLOPs of one forward pass on one cloud of ``num_points`` points."""
    network = module.network
    device = next(network.parameters()).device
    points = torch.rand(1, num_points, 3, device=device)  # (1, N, 3)
    category = torch.zeros(1, dtype=torch.long, device=device)  # part segmentation: the object category
    inputs = (points, category) if module.TASK == "part_segmentation" else (points,)
    flops, _ = count_flops(network, *inputs)
    return {"parameters": count_parameters(network), "gflops": flops / 1e9}


def _test(config: str, checkpoint: str, votes: int, common: list[str]) -> dict[str, Any]:
    args = ["test", "--config", config, *common, "--ckpt_path", checkpoint, "--model.init_args.votes", str(votes)]
    cli = PointeaCLI(args=args)
    metrics = {key: float(value) for key, value in cli.trainer.callback_metrics.items() if key.startswith("test/")}
    return {"votes": votes, "metrics": metrics, "log_dir": cli.trainer.log_dir}


def run_compared(
    config: str, seed: int, root: str, votes: int = 1, overrides: list[str] | None = None
) -> dict[str, Any]:
    """Fit ``config`` with ``seed`` in ``root``, test its last and best checkpoints; return the record.

    The record: ``status`` (``"ok"``, ``"failed"`` or ``"diverged"``) and ``reason`` (one line,
    ``None`` when ok); ``epochs`` and ``epoch_seconds`` (each training epoch, validation
    included) with their mean ``seconds_per_epoch``; ``peak_rss_mib``, ``peak_cuda_mib``;
    ``parameters`` and ``gflops`` (one cloud of the data module's ``num_points``); ``checkpoints``
    (``last``/``best``: path and the epoch it was saved at, counted from 1); ``tests``: per
    checkpoint, a list of ``{"votes", "metrics", "log_dir"}`` with every ``test/*`` metric logged.
    """
    record: dict[str, Any] = {"config": config, "seed": seed, "root": root, "status": "failed", "reason": None}
    common = [*(overrides or []), "--seed_everything", str(seed), "--trainer.default_root_dir", root]
    try:
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        cli = PointeaCLI(args=["fit", "--config", config, *common, f"--trainer.callbacks+={MONITOR}"])
        monitor = next(c for c in cli.trainer.callbacks if isinstance(c, RunMonitor))
        record["epochs"] = len(monitor.epoch_seconds)
        record["epoch_seconds"] = monitor.epoch_seconds
        record["seconds_per_epoch"] = sum(monitor.epoch_seconds) / max(len(monitor.epoch_seconds), 1)
        record["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        record["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
        record.update(_size_and_cost(cli.model, cli.datamodule.num_points))
        callback = cli.trainer.checkpoint_callback
        paths = {"last": str(last_checkpoint_path(callback)), "best": callback.best_model_path}
        record["checkpoints"] = {
            name: {"path": path, "epoch": read_checkpoint(path)["epoch"] + 1} for name, path in paths.items()
        }
        record["tests"] = {}
        for name, path in paths.items():
            record["tests"][name] = [_test(config, path, v, common) for v in sorted({1, votes})]
        values = [v for tests in record["tests"].values() for t in tests for v in t["metrics"].values()]
        if not all(math.isfinite(v) for v in values):
            record.update(status="diverged", reason="a test metric is not finite")
            return record
        record["status"] = "ok"
    except TrainingDiverged as error:  # the training module stops at the first NaN/Inf loss or gradient
        record.update(status="diverged", reason=_one_line(error))
    except Exception as error:  # noqa: BLE001 - every failure becomes a failed run, in one line
        record["reason"] = _one_line(error)
    except SystemExit as error:  # the CLI's one-line errors (pointea: error: ...) and argument errors
        record["reason"] = _one_line(error)
    return record


def _is_global_zero() -> bool:
    """Whether this is the first process of a (possibly distributed) run: Lightning's launchers
    set ``LOCAL_RANK``/``NODE_RANK`` in the processes they start, torchrun and SLURM ``RANK``."""
    if "RANK" in os.environ:
        return os.environ["RANK"] == "0"
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--root", required=True, help="the run folder (trainer.default_root_dir)")
    parser.add_argument("--votes", type=int, default=1)
    parser.add_argument("overrides", nargs=argparse.REMAINDER, help="after --: options for every pointea command")
    args = parser.parse_args(argv)
    overrides = args.overrides[1:] if args.overrides[:1] == ["--"] else args.overrides
    record = run_compared(args.config, args.seed, args.root, args.votes, overrides)
    if _is_global_zero():
        Path(args.root).mkdir(parents=True, exist_ok=True)
        with atomic_write(Path(args.root) / RESULT_FILE, "w") as handle:
            handle.write(json.dumps(record, indent=2) + "\n")
    if record["status"] != "ok":
        print(f"pointea-compare run: {record['status']}: {record['reason']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
