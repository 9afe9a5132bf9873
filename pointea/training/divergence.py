"""Stopping a run at the first non-finite number, before it reports a result.

A diverged network's logits are NaN, NaN logits argmax to class 0, and accuracy then reports the
share of class 0 as if it were a result. :class:`PointCloudModule` therefore checks the loss before
every backward pass, the gradients before every optimiser step, the network outputs of every
validation, test and predict batch, and the weights before every checkpoint is written, and raises
:class:`TrainingDiverged` at the first NaN or Inf. The ``pointea`` command turns it into one
``pointea: error: ...`` line and a non-zero exit; no checkpoint of the non-finite model is written,
so none can be marked best.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

from pointea.errors import TrainingDiverged

__all__ = ["TrainingDiverged", "first_non_finite", "named_gradients"]


def first_non_finite(named: Iterable[tuple[str, Tensor | None]]) -> str | None:
    """Name of the first floating-point tensor holding NaN or Inf, or ``None`` if all are finite.

    One host synchronisation when all are finite (the common case), a scan by name otherwise.
    """
    named = [(name, t) for name, t in named if t is not None and t.is_floating_point()]
    if not named:
        return None
    finite = torch.stack([t.isfinite().all() for _, t in named])  # (T,) one flag per tensor
    if bool(finite.all()):
        return None
    return named[int((~finite).nonzero()[0, 0])][0]


def named_gradients(module: nn.Module) -> list[tuple[str, Tensor | None]]:
    """``(name, gradient)`` of every parameter."""
    return [(name, p.grad) for name, p in module.named_parameters()]
