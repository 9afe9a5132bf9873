"""Benchmarks of pointea's networks: external vs PCT's self-attention, side by side.

Run ``pointea-bench`` (see :mod:`pointea.bench.cli`). The modules here are imported on demand;
this package imports nothing itself, so ``python -m pointea.bench.model_cost`` (the per-case
subprocess) starts clean.
"""

__all__: list[str] = []
