"""PCT's self-attention, the quadratic baseline that external attention replaces.

Guo et al., "PCT: Point Cloud Transformer" (CVM 2021), offset-attention's attention part: queries
and keys share one projection to C/4 channels (no bias), values keep C channels; the energy Q K^T
is soft-maxed over the last axis and then l1-normalised over the other, so every output point
receives a convex combination of all values. Time O(N^2 C), memory O(N^2).

Shape legend: B batch, N points, C channels, H heads, D channels per head.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pointea.layers.arguments import check_count, check_fraction

__all__ = ["SelfAttention"]


class SelfAttention(nn.Module):
    """PCT's shared-projection self-attention (``attention="offset"`` in pointea's switch).

    With ``heads=1`` this is PCT exactly: ``energy = Q^T K`` (B, N, N), softmax over the last axis,
    division by the sum over the first, ``out[j] = sum_i A[i, j] v_i``.

    Args:
        channels: input and output channels C.
        heads: number of heads H (PCT: 1); C / ``qk_reduction`` and C must divide by it.
        qk_reduction: C / (query-key channels); PCT uses 4.
        dropout: dropout on the attention map.

    Shapes:
        x: (B, N, C); mask: (B, N) bool, True for real points
        returns: output (B, N, C) and, with ``return_attention``, attention (B, H, N, N) indexed
        (output point, input point), each row summing to 1, else ``None``.
    """

    def __init__(
        self, channels: int, heads: int = 1, qk_reduction: int = 4, dropout: float = 0.0, eps: float = 1e-9
    ) -> None:
        super().__init__()
        for name, value in dict(channels=channels, heads=heads, qk_reduction=qk_reduction).items():
            check_count("SelfAttention", name, value)
        check_fraction("SelfAttention", "dropout", dropout)
        if not eps > 0:
            raise ValueError(f"SelfAttention: eps must be > 0, got {eps!r}")
        qk_channels = channels // qk_reduction
        if qk_channels < 1:
            raise ValueError(f"SelfAttention: channels={channels} must be >= qk_reduction={qk_reduction}")
        if qk_channels % heads or channels % heads:
            raise ValueError(
                f"SelfAttention: channels={channels} and channels/qk_reduction={qk_channels} "
                f"must both be divisible by heads={heads}"
            )
        self.heads = heads
        self.eps = eps
        self.query_key = nn.Linear(channels, qk_channels, bias=False)  # shared by Q and K, as in PCT
        self.value = nn.Linear(channels, channels)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, return_attention: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        batch, num_points, channels = x.shape
        qk = self.query_key(x).view(batch, num_points, self.heads, -1).transpose(1, 2)  # (B, N, H*Dq) -> (B, H, N, Dq)
        value = self.value(x).view(batch, num_points, self.heads, -1).transpose(1, 2)  # (B, N, H*D) -> (B, H, N, D)
        energy = qk @ qk.transpose(-1, -2)  # (B, H, N_i, N_j), symmetric
        # Soft-maxed in at least float32 (bf16/fp16 training), float64 stays float64.
        energy = energy.to(torch.promote_types(energy.dtype, torch.float32))
        if mask is not None:
            energy = energy.masked_fill(~mask[:, None, None, :], float("-inf"))  # (B, N) -> (B, 1, 1, N_j)
        weights = energy.softmax(dim=-1)  # over j, for each i
        if mask is not None:
            weights = weights.masked_fill(~mask[:, None, :, None], 0.0)  # padded i give nothing
        weights = weights / (self.eps + weights.sum(dim=-2, keepdim=True))  # over i, for each j
        attention = weights.transpose(-1, -2)  # (B, H, N_i, N_j) -> (B, H, N_out=j, N_in=i)
        mixed = self.dropout(attention).to(value.dtype) @ value  # (B, H, N, D)
        merged = mixed.transpose(1, 2).reshape(batch, num_points, channels)  # (B, H, N, D) -> (B, N, C)
        return merged, (attention if return_attention else None)
