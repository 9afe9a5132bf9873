"""``pointea-bench``: external vs PCT self-attention, side by side, and the cost of every stage.

Measures, in one run and for both attention kinds, the part segmenter (every point through
attention) and the classifier at N = 1024 ... 16384 points: forward and forward+backward time,
peak memory (each case in a fresh subprocess), FLOPs and parameters, and the external/offset ratio
of each; FPS and kNN with torch_cluster and with the pure-torch fallback; the data loader's
throughput. Prints a markdown table and writes ``bench.json``, ``bench.md`` and ``bench.png`` to
``--out``. ``--quick`` runs a reduced grid on one CPU thread (under a minute on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pointea.bench.case import MODEL_KINDS
from pointea.bench.machine import default_device
from pointea.bench.report import write_report
from pointea.bench.runner import FULL_POINTS, QUICK_POINTS, BenchSettings, run_benchmark
from pointea.bench.table import render_report
from pointea.layers.offset_attention import ATTENTION_KINDS

__all__ = ["build_parser", "settings_from_args", "main"]


def _int_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error
    if any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _choice_list(choices: tuple[str, ...]) -> Callable[[str], tuple[str, ...]]:
    """A parser of comma-separated values, each one of ``choices``."""

    def parse(text: str) -> tuple[str, ...]:
        values = tuple(v.strip() for v in text.split(",") if v.strip())
        unknown = [v for v in values if v not in choices]
        if unknown or not values:
            raise argparse.ArgumentTypeError(f"expected a comma-separated subset of {choices}, got {text!r}")
        return values

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="pointea-bench",
        description="External vs PCT self-attention, side by side, and the cost of every stage.",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="folder for bench.json/.md/.png (default: bench-results)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default=default_device(),
                        help="default: cuda if available, else cpu")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help=f"reduced grid: N={','.join(map(str, QUICK_POINTS))}, 2 repeats, one thread, small FPS/kNN run")  # fmt: skip
    parser.add_argument("--points", type=_int_list, default=None,
                        help=f"N of the model grid (default {','.join(map(str, FULL_POINTS))})")  # fmt: skip
    parser.add_argument("--models", type=_choice_list(MODEL_KINDS), default=MODEL_KINDS, help="comma-separated (default: both)")
    parser.add_argument("--attention", type=_choice_list(ATTENTION_KINDS), default=ATTENTION_KINDS,
                        help="comma-separated attention kinds (default: both)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=1, help="clouds per batch of the model cases (default: 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (default: torch's, all cores; quick 1); 1 steadies times on a shared machine")  # fmt: skip
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs before each timed stage (default: 1)")
    parser.add_argument("--repeats", type=int, default=None, help="most timed runs per stage (default 5, quick 2)")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="no new timed run after this many seconds of a stage (default 20, quick 5)")  # fmt: skip
    parser.add_argument("--case-timeout", type=float, default=None,
                        help="wall-clock limit of one case's subprocess, seconds (default 900, quick 120)")  # fmt: skip
    parser.add_argument("--sampling-points", type=_int_list, default=None,
                        help="N of the FPS/kNN comparison (default 1024,4096,16384; quick 1024)")  # fmt: skip
    parser.add_argument("--sampling-batch-size", type=int, default=None,
                        help="clouds per FPS/kNN batch (default 16, quick 4)")  # fmt: skip
    parser.add_argument("--no-sampling", action="store_true", help="skip the FPS/kNN comparison")
    parser.add_argument("--no-loader", action="store_true", help="skip the data loader measurement")
    parser.add_argument("--data-root", type=Path, default=None,
                        help="data for the loader measurement (default: a synthetic set in a temporary folder)")  # fmt: skip
    parser.add_argument("--loader-batch-size", type=int, default=32, help="default: 32")
    parser.add_argument("--loader-workers", type=int, default=0, help="loader worker processes (default: 0)")
    parser.add_argument("--no-plot", action="store_true", help="write no PNG")
    parser.add_argument("--from-json", type=Path, default=None,
                        help="measure nothing: render the table and plot of an earlier run's bench.json into --out")  # fmt: skip
    return parser


def settings_from_args(args: argparse.Namespace, command: str) -> BenchSettings:
    """Turn parsed flags into :class:`BenchSettings`, filling the defaults ``--quick`` changes."""
    quick = args.quick

    def pick(value: Any, full: Any, reduced: Any) -> Any:
        return value if value is not None else (reduced if quick else full)

    sampling_points = pick(args.sampling_points, (1024, 4096, 16384), (1024,))
    return BenchSettings(
        device=args.device,
        points=pick(args.points, FULL_POINTS, QUICK_POINTS),
        models=tuple(args.models),
        attentions=tuple(args.attention),
        batch_size=args.batch_size,
        warmup=args.warmup,
        repeats=pick(args.repeats, 5, 2),
        budget_seconds=pick(args.budget_seconds, 20.0, 5.0),
        case_timeout_seconds=pick(args.case_timeout, 900.0, 120.0),
        sampling_points=() if args.no_sampling else sampling_points,
        sampling_batch_size=pick(args.sampling_batch_size, 16, 4),
        loader=not args.no_loader,
        data_root=args.data_root,
        loader_options=dict(batch_size=args.loader_batch_size, num_workers=args.loader_workers),
        threads=pick(args.threads, None, 1),
        command=command,
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``pointea-bench``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error("--device cuda: no CUDA device is available here")
    if args.from_json is not None:
        report = json.loads(args.from_json.read_text())
    else:
        words = sys.argv[1:] if argv is None else argv
        settings = settings_from_args(args, " ".join(["pointea-bench", *map(shlex.quote, words)]))
        report = run_benchmark(settings)
    paths = write_report(report, args.out, plot=not args.no_plot)
    print(render_report(report))
    written = ", ".join(str(p) for p in paths.values())
    print(f"wrote {written} (measurements took {report['wall_seconds']:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
