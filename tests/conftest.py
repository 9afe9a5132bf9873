"""Shared test set-up: torch threads per xdist worker, deterministic seeds and a small, fast
encoder configuration."""

from __future__ import annotations

import os

# Under pytest-xdist (`make test` runs one worker per core) each worker, and every command a test
# starts in a subprocess, gets its share of the cores for torch's threads instead of all of them:
# two workers of two threads each on two cores oversubscribe them, and waiting torch threads spin.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1 and "OMP_NUM_THREADS" not in os.environ:
    os.environ["OMP_NUM_THREADS"] = str(max(1, len(os.sched_getaffinity(0)) // _WORKERS))

import pytest  # noqa: E402 - after the thread count, which torch reads when it is imported
import torch  # noqa: E402

if _WORKERS > 1:
    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

# Small sizes keep the whole suite fast on 2 CPU cores; the defaults get their own shape tests.
TINY_ENCODER = dict(
    embedding_channels=16,
    sample_sizes=(64, 32),
    stage_channels=(32, 32),
    neighbours=8,
    channels=32,
    num_layers=2,
    memory_slots=8,
    out_channels=64,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def missing_real_data(message: str) -> None:
    """Skip a real-data test whose ``../shared/data`` folder is absent (a checkout without it), but
    fail under CI, which always has it beside the clone: there a missing folder is a broken path."""
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI must have ../shared/data beside the clone")
    pytest.skip(message)
