"""Activation checkpointing that leaves BatchNorm's running statistics as one forward pass leaves them.

``torch.utils.checkpoint`` frees a segment's activations after the forward pass and recomputes
them in backward by running the segment's forward again. A BatchNorm in training mode would then
update its running mean and variance (and ``num_batches_tracked``) a second time, with the same
batch: the running statistics, and every evaluation after training, would differ from training
without checkpointing. :func:`checkpoint` saves those buffers when the recomputation starts and
puts them back when it ends, so they hold what the single forward pass wrote (the recomputation
itself normalises with the batch's statistics, as the forward pass did, so gradients are equal).
Random state (dropout) is replayed by ``torch.utils.checkpoint`` itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.checkpoint import checkpoint as torch_checkpoint

__all__ = ["checkpoint", "keep_running_statistics"]

T = TypeVar("T")


@contextmanager
def keep_running_statistics(modules: tuple[nn.Module, ...]) -> Iterator[None]:
    """Restore the running statistics of every BatchNorm inside ``modules`` on exit."""
    norms = [
        m for module in modules for m in module.modules()
        if isinstance(m, _BatchNorm) and m.training and m.track_running_stats
    ]  # fmt: skip
    with torch.no_grad():
        saved = [
            [buffer.clone() for buffer in (m.running_mean, m.running_var, m.num_batches_tracked)] for m in norms
        ]
    try:
        yield
    finally:
        with torch.no_grad():
            for m, (mean, var, count) in zip(norms, saved):
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(count)


def checkpoint(modules: nn.Module | tuple[nn.Module, ...], function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` under ``torch.utils.checkpoint`` (non-reentrant) when gradients are on;
    its recomputation in backward leaves the BatchNorm running statistics of ``modules`` (the
    modules ``function`` runs) untouched. Without gradients it simply calls ``function``.
    """
    if not torch.is_grad_enabled():
        return function(*args)
    owned = modules if isinstance(modules, tuple) else (modules,)
    return torch_checkpoint(
        function,
        *args,
        use_reentrant=False,
        context_fn=lambda: (nullcontext(), keep_running_statistics(owned)),
    )
