"""Shared test set-up: deterministic seeds and a small, fast encoder configuration."""

from __future__ import annotations

import os

import pytest
import torch

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
