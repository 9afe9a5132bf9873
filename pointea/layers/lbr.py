"""LBR: the per-point Linear + BatchNorm + ReLU block that PCT builds everything from.

Shape legend: B batch, N points, C channels; ``...`` any leading dimensions.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from pointea.layers.arguments import check_count

__all__ = ["LBR"]


class LBR(nn.Module):
    """Per-point ``Linear -> BatchNorm -> activation`` on channels-last features.

    Equivalent to PCT's ``Conv1d(kernel_size=1) -> BatchNorm1d -> ReLU`` on ``(B, C, N)``. Batch
    statistics are taken over every leading dimension, and with ``mask`` over valid points only,
    so padding never shifts them.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        activation: ``"relu"`` or PCT's ``"leaky_relu"`` (slope 0.2).

    Shapes:
        x: (..., C_in); mask: (...) bool, True for real points; shift: broadcastable to (..., C_out)
        returns (..., C_out), zero where masked.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        activation: Literal["relu", "leaky_relu"] = "relu",
    ) -> None:
        super().__init__()
        check_count("LBR", "in_channels", in_channels)
        check_count("LBR", "out_channels", out_channels)
        self.linear = nn.Linear(in_channels, out_channels, bias=False)
        self.norm = nn.BatchNorm1d(out_channels)
        # In place: BatchNorm's backward needs its input, not its output, so the activation may
        # overwrite it; that saves one (..., C_out) tensor per block for the backward pass.
        if activation == "relu":
            self.activation: nn.Module = nn.ReLU(inplace=True)
        elif activation == "leaky_relu":
            self.activation = nn.LeakyReLU(0.2, inplace=True)
        else:
            raise ValueError(f"LBR: activation must be 'relu' or 'leaky_relu', got {activation!r}")

    def forward(self, x: Tensor, mask: Tensor | None = None, shift: Tensor | None = None) -> Tensor:
        """``shift``, broadcast against the linear map's output and added before BatchNorm, carries
        a term shared by many points (a per-cloud context) computed once instead of per point."""
        y = self.linear(x)  # (..., C_out)
        return self.normalize(y if shift is None else y + shift, mask)

    def normalize(self, y: Tensor, mask: Tensor | None = None) -> Tensor:
        """The block after its linear map: BatchNorm and activation of ``y = linear(x) [+ shift]``.

        Shapes: y (..., C_out); mask (...); returns (..., C_out), zero where masked
        """
        if mask is not None:
            out = torch.zeros_like(y)
            out[mask] = self.activation(self.norm(y[mask]))  # (P_valid, C_out)
            return out
        flat = y.reshape(-1, y.shape[-1])  # (..., C_out) -> (P, C_out)
        return self.activation(self.norm(flat)).view(y.shape)  # (P, C_out) -> (..., C_out)
