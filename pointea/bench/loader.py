"""The data loader's throughput: shapes per second through ``ModelNet40DataModule``'s training loader.

Measures the whole training input path (shuffled sampling, per-shape resampling to ``num_points``,
augmentation, collation into tensors) as a model would consume it. Not a timed test: run it and
report the figures with the machine they were taken on.

    python -m pointea.bench.loader [--root DIR] [--workers 0 2]

Without ``--root`` it writes the synthetic set into a temporary folder first. ``pointea-bench``
calls :func:`measure_loader`, which turns a failure into a report row that says so instead of
failing the whole benchmark.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from pointea.data.modelnet40 import ModelNet40DataModule
from pointea.data.transforms import AUGMENTATIONS

__all__ = ["measure_loader_throughput", "measure_loader"]



def measure_loader_throughput(
    root: str | Path,
    num_points: int = 1024,
    batch_size: int = 32,
    num_workers: int = 0,
    batches: int = 200,
    warmup: int = 5,
    augment: str = "pct",
    synthetic: bool = True,
) -> dict[str, float | int | str]:
    """Time ``batches`` training batches after ``warmup`` untimed ones (worker start-up included).

    The loader is re-iterated (new epochs) until enough batches are drawn; with workers, the
    start-up of a new epoch's workers counts, as it does in training.

    Returns:
        ``shapes_per_s``, ``batches_per_s``, ``seconds`` and the settings used.
    """
    module = ModelNet40DataModule(
        str(root),
        num_points=num_points,
        batch_size=batch_size,
        num_workers=num_workers,
        augment=augment,
        synthetic=synthetic,
    )
    module.prepare_data()
    module.setup("fit")
    loader = module.train_dataloader()
    if len(loader) == 0:
        raise ValueError(f"{root}: fewer training shapes than one batch of {batch_size}")

    drawn, start = 0, 0.0
    while drawn < warmup + batches:
        for batch in loader:
            if batch["points"].shape != (batch_size, num_points, 3):
                raise RuntimeError(f"unexpected batch shape {tuple(batch['points'].shape)}")
            drawn += 1
            if drawn == warmup:
                start = time.perf_counter()
            if drawn == warmup + batches:
                break
    seconds = time.perf_counter() - start
    return {
        "shapes_per_s": batches * batch_size / seconds,
        "batches_per_s": batches / seconds,
        "seconds": seconds,
        "batches": batches,
        "batch_size": batch_size,
        "num_points": num_points,
        "num_workers": num_workers,
        "augment": augment,
        "train_shapes": len(loader.dataset),
        "root": str(root),
    }


def measure_loader(
    data_root: Path | None,
    num_points: int = 1024,
    batch_size: int = 32,
    num_workers: int = 0,
    **options: Any,
) -> dict[str, Any]:
    """Loader throughput on ``data_root`` (``None``: a synthetic set in a temporary folder).

    Returns the measurement's figures with ``"status": "ok"``, or ``{"status": "failed", "reason":
    ...}``.
    """
    try:
        if data_root is not None:
            figures = measure_loader_throughput(
                data_root, num_points=num_points, batch_size=batch_size, num_workers=num_workers, **options
            )
        else:
            with tempfile.TemporaryDirectory(prefix="pointea-bench-data-") as tmp:
                figures = measure_loader_throughput(
                    Path(tmp), num_points=num_points, batch_size=batch_size, num_workers=num_workers, **options
                )
            figures = {**figures, "root": "synthetic set in a temporary folder"}
    except Exception as error:  # noqa: BLE001 - reported in the row
        return {"status": "failed", "reason": f"{type(error).__name__}: {error}"}
    return {"status": "ok", **figures}


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", help="ModelNet40-layout folder (default: temporary synthetic set)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--num-points", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--augment", default="pct", choices=AUGMENTATIONS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.root or scratch
        print(f"loader throughput, {root}, {os.cpu_count()} CPU(s)")
        for workers in args.workers:
            result = measure_loader_throughput(
                root, args.num_points, args.batch_size, workers, args.batches, augment=args.augment
            )
            print(
                f"  workers={workers}: {result['shapes_per_s']:,.0f} shapes/s "
                f"({result['batches_per_s']:.1f} batches/s of {args.batch_size} x "
                f"{args.num_points} points, augment={args.augment}, {result['train_shapes']} shapes)"
            )


if __name__ == "__main__":
    _main()
