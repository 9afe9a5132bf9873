"""External attention: attention against two small learnable memories shared by all samples.

Guo, Liu, Mu, Hu, "Beyond Self-attention: External Attention using Two Linear Layers for Visual
Tasks" (TPAMI 2022). Instead of keys and values computed from the input, every point attends to S
learnable memory slots M_k, M_v (S x d)::

    A = DoubleNorm(F M_k^T)     # (N, S): softmax over the N points, then l1 over the S slots
    F_out = A M_v               # (N, d)

so the cost is O(N S d) rather than self-attention's O(N^2 d). Multi-head as in the authors' code:
project (optionally widening by ``expansion``), split into H heads, apply the same two memories
to every head, merge and project back.

Shape legend: B batch, N points, C channels, H heads, D channels per head, S memory slots.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["ExternalAttention", "double_normalize", "column_logsumexp"]


def _masked_float(logits: Tensor, mask: Tensor | None) -> Tensor:
    """Shapes: logits (B, H, N, S); mask (B, N); returns (B, H, N, S) float32, -inf where masked."""
    logits = logits.float()
    if mask is not None:
        logits = logits.masked_fill(~mask[:, None, :, None], float("-inf"))  # (B, N) -> (B, 1, N, 1)
    return logits


def column_logsumexp(logits: Tensor, mask: Tensor | None = None) -> Tensor:
    """Log of the softmax's denominator over the points, per head and memory slot, in float32.

    The softmax over the points is the only operation of external attention that sees the whole
    cloud; these (B, H, 1, S) numbers carry all it needs of the points. Two sets of points combine
    with ``torch.logaddexp``, so a cloud can be processed in chunks (``-inf`` for a chunk without
    real points).

    Shapes:
        logits: (B, H, N, S); mask: (B, N) bool; returns (B, H, 1, S) float32
    """
    return _masked_float(logits, mask).logsumexp(dim=2, keepdim=True)


def double_normalize(
    logits: Tensor, mask: Tensor | None = None, eps: float = 1e-9, logsumexp: Tensor | None = None
) -> Tensor:
    """Softmax over the points, then l1 normalisation over the memory slots.

    Computed in float32 whatever the input dtype, so bf16/fp16 training keeps the tiny per-point
    weights of large clouds. Masked points get zero weight everywhere. With ``logsumexp`` (the
    :func:`column_logsumexp` of the whole cloud) ``logits`` may be any subset of its points: the
    softmax is then ``exp(logits - logsumexp)``, the same numbers the whole cloud would give.

    Shapes:
        logits: (B, H, N, S); mask: (B, N) bool, True for real points; logsumexp: (B, H, 1, S);
        returns (B, H, N, S) float32
    """
    logits = _masked_float(logits, mask)
    if logsumexp is None:
        attention = logits.softmax(dim=2)  # over the N points
    else:
        attention = (logits - logsumexp).exp()  # (B, H, N, S): softmax with the whole cloud's denominator
    return attention / (eps + attention.sum(dim=3, keepdim=True))  # over the S slots


class ExternalAttention(nn.Module):
    """Multi-head external attention over a set of points.

    Args:
        channels: input and output channels C.
        heads: number of heads H; ``channels * expansion`` must divide by it.
        memory_slots: memory size S (rows of M_k and M_v), shared by all heads.
        expansion: widening of the projected features before the split into heads (the authors use
            4 in vision; 1 keeps the layer about the size of PCT's self-attention).
        dropout: dropout on the attention map.

    Shapes:
        x: (B, N, C); mask: (B, N) bool, True for real points; logsumexp: (B, H, 1, S), see
        :meth:`softmax_statistics`
        returns: output (B, N, C) and, with ``return_attention``, attention (B, H, N, S) whose rows
        sum to 1 over S (zero rows for masked points), else ``None``.
    """

    def __init__(
        self,
        channels: int,
        heads: int = 4,
        memory_slots: int = 64,
        expansion: int = 1,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        inner = channels * expansion
        if inner % heads:
            raise ValueError(
                f"ExternalAttention: channels * expansion = {inner} must be divisible by heads={heads}"
            )
        self.heads = heads
        self.memory_slots = memory_slots
        head_channels = inner // heads
        self.project_in = nn.Linear(channels, inner)
        self.memory_key = nn.Linear(head_channels, memory_slots, bias=False)  # M_k: D -> S
        self.memory_value = nn.Linear(memory_slots, head_channels, bias=False)  # M_v: S -> D
        self.dropout = nn.Dropout(dropout)
        self.project_out = nn.Linear(inner, channels)

    def _heads(self, x: Tensor) -> Tensor:
        """Shapes: x (B, N, C); returns (B, H, N, D)."""
        batch, num_points, _ = x.shape
        heads = self.project_in(x).view(batch, num_points, self.heads, -1)  # (B, N, H*D) -> (B, N, H, D)
        return heads.transpose(1, 2)  # (B, N, H, D) -> (B, H, N, D)

    def softmax_statistics(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """:func:`column_logsumexp` of these points' memory logits; pass the whole cloud's (chunks
        combined with ``torch.logaddexp``) as ``logsumexp`` to evaluate any chunk of it exactly.

        Shapes:
            x: (B, N, C); mask: (B, N) bool; returns (B, H, 1, S) float32
        """
        return column_logsumexp(self.memory_key(self._heads(x)), mask)

    def forward(
        self,
        x: Tensor,
        mask: Tensor | None = None,
        return_attention: bool = False,
        logsumexp: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        batch, num_points, _ = x.shape
        heads = self._heads(x)  # (B, H, N, D)
        attention = double_normalize(self.memory_key(heads), mask, logsumexp=logsumexp)  # (B, H, N, S)
        mixed = self.memory_value(self.dropout(attention).to(heads.dtype))  # (B, H, N, D)
        merged = mixed.transpose(1, 2).reshape(batch, num_points, -1)  # (B, H, N, D) -> (B, N, H*D)
        return self.project_out(merged), (attention if return_attention else None)
