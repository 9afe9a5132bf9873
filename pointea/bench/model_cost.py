"""Time, peak memory, FLOPs and parameters of one model case, measured in a fresh subprocess.

:func:`run_case` (the parent's side) starts ``python -m pointea.bench.model_cost`` for one
:class:`ModelCase`; the child builds the network, measures it with :func:`measure_case` and writes
its figures as JSON, stage by stage, so a child killed for memory still leaves what it measured.
A fresh process per case gives every case its own peak memory and the same allocator state.

What is measured, in this order:

- ``forward``: the network's forward pass without gradients; median seconds of the timed repeats
  after warm-up, and the peak memory of that stretch.
- ``train``: forward plus backward of the summed logits (gradients set to ``None`` between runs);
  median seconds and peak memory likewise.
- ``flops`` of one forward pass (:func:`pointea.models.summary.count_flops`) and ``parameters``.

The network runs in eval mode throughout (dropout off, BatchNorm on running statistics), so a
batch of one cloud is valid; the arithmetic is that of training up to BatchNorm's statistics.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from pointea.bench.case import ModelCase
from pointea.bench.peak_memory import PeakMemoryMeter
from pointea.bench.timing import time_callable

__all__ = ["STAGES", "measure_case", "run_case", "is_out_of_memory", "main"]

#: The measured stages, in the order they run.
STAGES: tuple[str, ...] = ("forward", "train")


def is_out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is torch running out of memory (CUDA or the CPU allocator)."""
    if isinstance(error, (torch.OutOfMemoryError, MemoryError)):
        return True
    message = str(error)
    return isinstance(error, RuntimeError) and ("out of memory" in message or "can't allocate memory" in message)


def _write(result: dict[str, Any], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)


def measure_case(
    case: ModelCase,
    device: str,
    result_path: Path,
    warmup: int = 1,
    repeats: int = 5,
    budget_seconds: float | None = 20.0,
    stages: tuple[str, ...] = STAGES,
) -> dict[str, Any]:
    """Measure ``case`` in this process, writing the figures to ``result_path`` after every stage.

    Args:
        case: what to measure.
        device: torch device name.
        result_path: JSON file the figures go to (rewritten after each stage).
        warmup: untimed runs before each stage's timed ones.
        repeats: the most timed runs per stage.
        budget_seconds: no new timed run starts once a stage's timed runs took this long.
        stages: which of :data:`STAGES` to run (a skipped one is left out of the result).

    Returns:
        ``{"case", "status", "parameters", "forward": {"median_seconds", "min_seconds", "seconds",
        "peak_bytes"}, "train": {...}, "flops", "memory_meter", "peak_reset"}``; status is
        ``"ok"``, ``"out_of_memory"`` or ``"failed"`` (with ``"reason"``).
    """
    from pointea.models.summary import count_flops, count_parameters

    torch.manual_seed(0)
    torch_device = torch.device(device)
    result: dict[str, Any] = {"case": case.to_dict(), "status": "running"}
    try:
        model = case.build_model().to(torch_device).eval()
        inputs = case.make_inputs(torch_device)
        result["parameters"] = count_parameters(model)
        result["memory_meter"] = "cuda_max_memory_allocated" if torch_device.type == "cuda" else "max_rss"
        _write(result, result_path)

        def forward() -> None:
            with torch.no_grad():
                model(*inputs)

        def train_step() -> None:
            model.zero_grad(set_to_none=True)
            model(*inputs).sum().backward()

        work = {"forward": forward, "train": train_step}
        meter = PeakMemoryMeter(torch_device)
        for stage in (s for s in STAGES if s in stages):
            meter.start()
            timing = time_callable(work[stage], torch_device, warmup, repeats, budget_seconds)
            result[stage] = {
                "median_seconds": timing.median,
                "min_seconds": timing.minimum,
                "seconds": timing.seconds,
                "peak_bytes": meter.peak_bytes(),
            }
            result["peak_reset"] = meter.reset_ok
            model.zero_grad(set_to_none=True)
            _write(result, result_path)
        result["flops"] = count_flops(model, *inputs)[0]
        result["status"] = "ok"
    except Exception as error:  # noqa: BLE001 - every failure is reported in the result
        result["status"] = "out_of_memory" if is_out_of_memory(error) else "failed"
        result["reason"] = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    _write(result, result_path)
    return result


def run_case(
    case: ModelCase,
    device: str,
    warmup: int = 1,
    repeats: int = 5,
    budget_seconds: float | None = 20.0,
    stages: tuple[str, ...] = STAGES,
    timeout_seconds: float | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Measure ``case`` in a fresh ``python -m pointea.bench.model_cost`` subprocess.

    Takes the arguments of :func:`measure_case`, a wall-clock ``timeout_seconds`` for the child
    and the CPU ``threads`` torch may use there (``None``: torch's default). Returns its result; a child killed by a signal (the kernel's OOM killer sends SIGKILL)
    gives status ``"out_of_memory"``, one past its timeout ``"timed_out"``, one that died without
    a result ``"failed"``; figures of the stages it finished are kept.
    """
    with tempfile.TemporaryDirectory(prefix="pointea-bench-") as tmp:
        result_path = Path(tmp) / "result.json"
        command = [
            sys.executable, "-m", "pointea.bench.model_cost",
            "--case", json.dumps(case.to_dict()),
            "--device", device,
            "--result", str(result_path),
            "--warmup", str(warmup),
            "--repeats", str(repeats),
            "--stages", ",".join(stages),
        ]  # fmt: skip
        if budget_seconds is not None:
            command += ["--budget-seconds", str(budget_seconds)]
        if threads is not None:
            command += ["--threads", str(threads)]
        status, reason = None, None
        try:
            completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout_seconds)
        except subprocess.TimeoutExpired:
            status, reason = "timed_out", f"timed out after {timeout_seconds:g} s"
        else:
            if completed.returncode < 0:
                killed_by = signal.Signals(-completed.returncode).name
                status = "out_of_memory" if killed_by == "SIGKILL" else "failed"
                reason = f"process killed by {killed_by}"
            elif completed.returncode != 0 and not result_path.exists():
                tail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
                status, reason = "failed", f"exit code {completed.returncode}: {tail[0]}"
        result: dict[str, Any] = (
            json.loads(result_path.read_text()) if result_path.exists() else {"case": case.to_dict()}
        )
    if status is not None:
        result["status"], result["reason"] = status, reason
    return result


def main(argv: list[str] | None = None) -> None:
    """The child's entry point (``python -m pointea.bench.model_cost``); see :func:`run_case`."""
    parser = argparse.ArgumentParser(description="Measure one pointea benchmark case (used by pointea-bench).")
    parser.add_argument("--case", required=True, help="the ModelCase as JSON")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--result", required=True, type=Path, help="JSON file for the figures")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget-seconds", type=float, default=None)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    measure_case(
        ModelCase.from_dict(json.loads(args.case)),
        args.device,
        args.result,
        warmup=args.warmup,
        repeats=args.repeats,
        budget_seconds=args.budget_seconds,
        stages=tuple(s for s in args.stages.split(",") if s),
    )


if __name__ == "__main__":
    main()
