"""PCT's neighbour embedding stage: sample centres, group their neighbours, pool local features.

Shape legend: B clouds, N points per cloud, M centres per cloud, K neighbours, C channels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pointea.layers.arguments import check_count
from pointea.layers.lbr import LBR
from pointea.layers.sampling import fps, knn

__all__ = ["SampleAndGroup", "group"]


class SampleAndGroup(nn.Module):
    """Farthest-point-sample M centres per cloud, gather each one's K nearest points, and embed
    ``concat(neighbour - centre, centre)`` with two LBRs and a max over the neighbours.

    Works on a dense batch; with ``mask`` its clouds may differ in size (padding is never a centre
    nor a neighbour), and every cloud comes out with M centres, so the output has no padding.
    Traceable (the path exported models take).

    Args:
        in_channels: feature channels C_in of the input points.
        out_channels: feature channels C_out of the centres.
        num_samples: centres M per cloud.
        neighbours: neighbours K per centre (kNN in xyz; the centre is its own first neighbour).

    Shapes:
        pos: (B, N, 3); features: (B, N, C_in); mask: (B, N) bool, True for real points
        returns: pos (B, M, 3), features (B, M, C_out)
    """

    def __init__(self, in_channels: int, out_channels: int, num_samples: int = 512, neighbours: int = 32) -> None:
        super().__init__()
        sizes = dict(in_channels=in_channels, out_channels=out_channels, num_samples=num_samples, neighbours=neighbours)
        for name, value in sizes.items():
            check_count("SampleAndGroup", name, value)
        self.num_samples = num_samples
        self.neighbours = neighbours
        self.embed = nn.Sequential(LBR(2 * in_channels, out_channels), LBR(out_channels, out_channels))

    def forward(self, pos: Tensor, features: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        num_clouds, num_points, channels = features.shape
        with torch.no_grad():
            centres = fps(pos, self.num_samples, mask)  # (B, M)
            offsets = torch.arange(num_clouds, device=pos.device).unsqueeze(1) * num_points  # (B, 1)
            centre_rows = (centres + offsets).reshape(-1)  # (B * M,) rows of the flattened batch
            centre_pos = pos.reshape(-1, 3)[centre_rows].view(num_clouds, -1, 3)  # (B * N, 3) -> (B, M, 3)
            neighbours = knn(pos, centre_pos, self.neighbours, mask)  # (B, M, K)
        centre_features = features.reshape(-1, channels)[centre_rows].view(num_clouds, -1, channels)  # (B, M, C_in)
        grouped = group(features, centre_features, neighbours)  # (B, M, K, 2 C_in)
        pooled = self.embed(grouped).amax(dim=2)  # (B, M, K, C_out) -> (B, M, C_out)
        return centre_pos, pooled


def group(features: Tensor, centre_features: Tensor, neighbours: Tensor) -> Tensor:
    """``concat(neighbour - centre, centre)`` of every centre's neighbours' features.

    The centres need not be points of ``features`` (a chunk of a cloud groups the whole cloud's).

    Shapes:
        features: (B, N, C); centre_features: (B, M, C); neighbours: (B, M, K) indices into N;
        returns (B, M, K, 2 C)
    """
    num_clouds, num_points, channels = features.shape
    with torch.no_grad():
        # Indices into the flattened batch, so every gather is one plain row lookup (no expanded
        # (B, M * K, C) index tensor in exported graphs).
        offsets = torch.arange(num_clouds, device=features.device).view(-1, 1, 1) * num_points  # (B, 1, 1)
        rows = (neighbours + offsets).reshape(-1)  # (B * M * K,)
    neighbour_features = features.reshape(-1, channels)[rows].view(*neighbours.shape, channels)  # (B * M * K, C) -> (B, M, K, C)
    centres = centre_features.unsqueeze(2)  # (B, M, C) -> (B, M, 1, C)
    relative = neighbour_features - centres  # (B, M, K, C)
    return torch.cat([relative, centres.expand_as(relative)], dim=-1)  # (B, M, K, 2 C)
