"""Shared test set-up: deterministic seeds and a small, fast encoder configuration."""

from __future__ import annotations

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
