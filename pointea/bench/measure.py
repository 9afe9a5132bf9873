"""Measuring one model case: time, peak memory, FLOPs, parameters, in a fresh subprocess.

:func:`run_case` (the parent's side) starts ``python -m pointea.bench.measure`` for one
:class:`~pointea.bench.cases.ModelCase`; the child builds the network, measures it with
:func:`measure_case` and writes its figures as JSON, stage by stage, so a child killed for memory
still leaves what it measured. A fresh process per case gives every case its own peak memory and
the same allocator state.

What is measured, in this order:

- ``forward``: the network's forward pass without gradients (in chunks for a chunked case); median
  seconds of the timed repeats after warm-up, and the peak memory of that stretch.
- ``train``: forward plus backward of the summed logits (gradients set to ``None`` between runs),
  with activation checkpointing for a checkpointing case; median seconds and peak memory likewise.
- ``flops`` of one forward pass (:func:`pointea.models.summary.count_flops`; plain cases whose
  forward runs only) and ``parameters``.
- for a variant (chunked, bf16, compiled) with ``parity=True``: ``max_logit_difference``, the
  largest absolute difference between its forward logits and the plain fp32 eager forward's on
  the same input (measured last, after the peaks).

The network runs in eval mode throughout (dropout off, BatchNorm on running statistics), so a
batch of one cloud is valid; the arithmetic is that of training up to BatchNorm's statistics.

Peak memory (:class:`PeakMemoryMeter`): on CPU, the process's maximum resident set size
(``resource.getrusage``'s ``ru_maxrss``) minus its resident set size at the start; on Linux the
high-water mark is first reset to the current RSS (``/proc/self/clear_refs``), so two stretches of
one process get their own peaks. On CUDA: ``torch.cuda.max_memory_allocated`` after
``torch.cuda.reset_peak_memory_stats``, minus the memory allocated at the start. Times
(:func:`time_callable`): on CUDA the device is synchronised around every timed run; big cases get
fewer repeats, since no repeat starts once the timed runs have used ``budget_seconds``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pointea.bench.cases import STAGES, ModelCase

__all__ = [
    "CaseSettings",
    "Timing",
    "time_callable",
    "PeakMemoryMeter",
    "current_rss_bytes",
    "max_rss_bytes",
    "cpu_model",
    "describe_machine",
    "default_device",
    "is_out_of_memory",
    "measure_case",
    "run_case",
    "main",
]

# Time ------------------------------------------------------------------------------------------

@dataclass
class Timing:
    """Seconds of every timed run, in order."""

    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        """Median of the timed runs."""
        return statistics.median(self.seconds)

    @property
    def minimum(self) -> float:
        """Fastest timed run (less sensitive to other load on a shared machine than the median)."""
        return min(self.seconds)

    @property
    def repeats(self) -> int:
        """How many runs were timed."""
        return len(self.seconds)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_callable(
    fn: Callable[[], object],
    device: torch.device | str = "cpu",
    warmup: int = 1,
    repeats: int = 5,
    budget_seconds: float | None = None,
) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then up to ``repeats`` times timed.

    Args:
        fn: the work to time; it takes no arguments.
        device: where ``fn`` runs (synchronised around every timed run on CUDA).
        warmup: untimed runs first (allocator, caches, lazy initialisation).
        repeats: the most timed runs.
        budget_seconds: stop starting new timed runs once they have taken this long in total
            (``None``: no limit).
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f"time_callable: repeats must be >= 1 and warmup >= 0, got {repeats}, {warmup}")
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    _synchronize(device)
    timing = Timing()
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        fn()
        _synchronize(device)
        timing.seconds.append(time.perf_counter() - start)
        if budget_seconds is not None and sum(timing.seconds) >= budget_seconds:
            break
    return timing


# Peak memory -----------------------------------------------------------------------------------

_PROC_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def max_rss_bytes() -> int:
    """This process's maximum resident set size so far, in bytes."""
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max_rss if sys.platform == "darwin" else max_rss * 1024  # Linux reports KiB


def current_rss_bytes() -> int:
    """This process's resident set size now (``/proc/self/status``; the maximum where unreadable)."""
    if _PROC_STATUS.exists():
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024  # kB
    return max_rss_bytes()


def _reset_max_rss() -> bool:
    """Reset the RSS high-water mark to the current RSS (Linux); ``False`` where not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


class PeakMemoryMeter:
    """Measure the peak memory of what runs between :meth:`start` and :meth:`peak_bytes`.

    Args:
        device: the torch device the code runs on.

    Example::

        meter = PeakMemoryMeter(device)
        meter.start()
        model(points)
        extra = meter.peak_bytes()
    """

    def __init__(self, device: torch.device | str) -> None:
        self.device = torch.device(device)
        self._baseline = 0
        #: whether the CPU high-water mark was reset at :meth:`start` (else the peak is lifetime).
        self.reset_ok = True

    def start(self) -> None:
        """Take the baseline (and reset the peak) now."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._baseline = torch.cuda.memory_allocated(self.device)
        else:
            self.reset_ok = _reset_max_rss()
            self._baseline = current_rss_bytes()

    def peak_bytes(self) -> int:
        """Peak memory since :meth:`start`, above the baseline, in bytes (at least 0)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            peak = max_rss_bytes()
        return max(0, peak - self._baseline)


# The machine -----------------------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what :mod:`platform` knows)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def _total_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def default_device() -> str:
    """``"cuda"`` when a CUDA device is usable, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def describe_machine(device: str) -> dict[str, Any]:
    """Facts about this machine and ``device`` as plain JSON-able values.

    Keys: ``cpu_model``, ``cpu_cores`` (logical CPUs the process may use), ``torch_threads``,
    ``memory_bytes``, ``platform``, ``python``, ``torch``, ``torch_cluster`` (version or ``None``),
    ``device`` and ``device_name`` (the GPU's name on CUDA, the CPU model on CPU), and on CUDA
    ``cuda`` (the CUDA version torch was built with) and ``device_memory_bytes``.
    """
    try:
        import torch_cluster

        cluster_version: str | None = getattr(torch_cluster, "__version__", "unknown")
    except ImportError:
        cluster_version = None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    facts: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cpu_cores": cores,
        "torch_threads": torch.get_num_threads(),
        "memory_bytes": _total_memory_bytes(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cluster": cluster_version,
        "device": device,
        "device_name": cpu_model(),
    }
    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        properties = torch.cuda.get_device_properties(index)
        facts.update(device_name=properties.name, cuda=torch.version.cuda, device_memory_bytes=properties.total_memory)
    return facts


# One case in a subprocess ------------------------------------------------------------------------


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


def _precision_context(case: ModelCase, device: torch.device) -> Callable[[], contextlib.AbstractContextManager]:
    """A fresh context manager per call: bf16 autocast for a bf16 case, else nothing."""
    if case.precision == "bf16":
        return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


@dataclass(frozen=True)
class CaseSettings:
    """How one case is measured, here (:func:`measure_case`) or in a child process
    (:func:`run_case`, which hands them over as the child's flags, :meth:`flags`).

    Args:
        warmup: untimed runs before each stage's timed ones.
        repeats: the most timed runs per stage.
        budget_seconds: no new timed run starts once a stage's timed runs took this long
            (``None``: no budget).
        stages: which of :data:`~pointea.bench.cases.STAGES` to run (a skipped one is left out).
        parity: for a variant, also run the plain fp32 eager forward (unchunked: it must fit) and
            record ``max_logit_difference``.
    """

    warmup: int = 1
    repeats: int = 5
    budget_seconds: float | None = 20.0
    stages: tuple[str, ...] = STAGES
    parity: bool = False

    def flags(self) -> list[str]:
        """The child's command-line flags for these settings (see :func:`main`)."""
        flags = ["--warmup", str(self.warmup), "--repeats", str(self.repeats), "--stages", ",".join(self.stages)]
        if self.budget_seconds is not None:
            flags += ["--budget-seconds", str(self.budget_seconds)]
        return flags + (["--parity"] if self.parity else [])


def measure_case(
    case: ModelCase, device: str, result_path: Path, settings: CaseSettings = CaseSettings()
) -> dict[str, Any]:
    """Measure ``case`` in this process, writing the figures to ``result_path`` after every stage.

    Args:
        case: what to measure.
        device: torch device name.
        result_path: JSON file the figures go to (rewritten after each stage).
        settings: warm-up, repeats, budget, stages and parity (:class:`CaseSettings`).

    Returns:
        ``{"case", "status", "parameters", "forward": {"median_seconds", "min_seconds", "seconds",
        "peak_bytes"}, "train": {...}, "flops", "memory_meter", "peak_reset"}`` (plus
        ``"compile_seconds"``, ``"max_logit_difference"`` where they apply); status is ``"ok"``,
        ``"out_of_memory"`` or ``"failed"`` (with ``"reason"``).
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
        eager = model
        if case.compiled:
            model = torch.compile(model)
        precision = _precision_context(case, torch_device)
        chunks = {} if case.chunk_size is None else {"chunk_size": case.chunk_size}

        def forward() -> torch.Tensor:
            with torch.no_grad(), precision():
                return model(*inputs, **chunks)

        def train_step() -> None:
            model.zero_grad(set_to_none=True)
            with precision():
                logits = model(*inputs)
            logits.float().sum().backward()

        if case.compiled:  # compilation happens on the first call of each kind
            start = time.perf_counter()
            forward()
            result["compile_seconds"] = time.perf_counter() - start
        work = {"forward": forward, "train": train_step}
        meter = PeakMemoryMeter(torch_device)
        stages = settings.stages
        for stage in (s for s in STAGES if s in stages):
            meter.start()
            timing = time_callable(work[stage], torch_device, settings.warmup, settings.repeats, settings.budget_seconds)
            result[stage] = {
                "median_seconds": timing.median,
                "min_seconds": timing.minimum,
                "seconds": timing.seconds,
                "peak_bytes": meter.peak_bytes(),
            }
            result["peak_reset"] = meter.reset_ok
            model.zero_grad(set_to_none=True)
            _write(result, result_path)
        if case.is_plain and "forward" in stages:  # a variant's are its plain case's; the count runs unchunked
            result["flops"] = count_flops(eager, *inputs)[0]
        if settings.parity and not case.is_plain and "forward" in stages:
            with torch.no_grad():
                reference = eager(*inputs).float()
                result["max_logit_difference"] = float((forward().float() - reference).abs().max())
        result["status"] = "ok"
    except Exception as error:  # noqa: BLE001 - every failure is reported in the result
        result["status"] = "out_of_memory" if is_out_of_memory(error) else "failed"
        result["reason"] = f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"
    _write(result, result_path)
    return result


def run_case(
    case: ModelCase,
    device: str,
    settings: CaseSettings = CaseSettings(),
    timeout_seconds: float | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Measure ``case`` in a fresh ``python -m pointea.bench.measure`` subprocess.

    Takes the arguments of :func:`measure_case`, a wall-clock ``timeout_seconds`` for the child
    and the CPU ``threads`` torch may use there (``None``: torch's default). Returns its result; a child killed by a signal (the kernel's OOM killer sends SIGKILL)
    gives status ``"out_of_memory"``, one past its timeout ``"timed_out"``, one that died without
    a result ``"failed"``; figures of the stages it finished are kept.
    """
    with tempfile.TemporaryDirectory(prefix="pointea-bench-") as tmp:
        result_path = Path(tmp) / "result.json"
        command = [
            sys.executable, "-m", "pointea.bench.measure",
            "--case", json.dumps(case.to_dict()),
            "--device", device,
            "--result", str(result_path),
            *settings.flags(),
        ]  # fmt: skip
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
    """The child's entry point (``python -m pointea.bench.measure``); see :func:`run_case`."""
    parser = argparse.ArgumentParser(description="Measure one pointea benchmark case (used by pointea-bench).")
    parser.add_argument("--case", required=True, help="the ModelCase as JSON")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--result", required=True, type=Path, help="JSON file for the figures")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget-seconds", type=float, default=None)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's)")
    parser.add_argument("--parity", action="store_true", help="a variant's largest logit difference to plain fp32")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    measure_case(
        ModelCase.from_dict(json.loads(args.case)),
        args.device,
        args.result,
        CaseSettings(
            warmup=args.warmup,
            repeats=args.repeats,
            budget_seconds=args.budget_seconds,  # no budget unless given
            stages=tuple(s for s in args.stages.split(",") if s),
            parity=args.parity,
        ),
    )


if __name__ == "__main__":
    main()
