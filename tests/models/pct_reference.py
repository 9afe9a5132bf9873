"""PCT as its published code computes it, written out for the reference tests.

Two networks, both in PCT's own layout (``Conv1d`` with kernel 1 on channels-first ``(B, C, N)``
tensors) and with PCT's own parameter names, so their ``state_dict`` is what PCT's code saves:

- :class:`Pct`: the classifier of PCT_Pytorch (Strawberry-Eat-Mango/PCT_Pytorch, ``model.py``,
  ``util.py``), itself a port of the Jittor original (MenghaoGuo/PCT ``networks/cls/pct.py``).
- :class:`PctPartSeg`: the part segmenter of the Jittor original (``networks/seg/pct_partseg.py``),
  restated in torch (PCT_Pytorch publishes no part segmenter).

The sampling is PCT's too: farthest point sampling as ``pointnet2_ops``' CUDA kernel does it
(start at index 0, running minimum of squared distances, points with squared norm <= 1e-3 never
picked), kNN from the matrix-product form of the squared distance and ``topk``.

Nothing here imports pointea: these are what pointea is checked against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# pointnet2_ops' furthest_point_sampling_kernel skips points whose squared norm is at most this.
CUDA_FPS_SKIP = 1e-3


def furthest_point_sample(xyz: Tensor, npoint: int, skip_sq_norm: float = CUDA_FPS_SKIP) -> Tensor:
    """Indices ``(B, npoint)`` of PCT's FPS on ``xyz`` ``(B, N, 3)``.

    Starts at point 0; each step takes the point with the largest running-minimum squared distance
    to the points taken so far, among the points whose squared norm exceeds ``skip_sq_norm`` (the
    CUDA kernel's ``if (mag <= 1e-3) continue``; ``skip_sq_norm=-1`` turns that off). Ties go to
    the lowest index (the kernel's per-thread reduction can differ there; exact ties do not occur
    on the tests' clouds).
    """
    num_clouds, num_points, _ = xyz.shape
    rows = torch.arange(num_clouds)
    eligible = (xyz * xyz).sum(dim=-1) > skip_sq_norm  # (B, N)
    nearest = torch.full((num_clouds, num_points), 1e10, dtype=xyz.dtype)  # the kernel's `temp`
    picked = torch.zeros(num_clouds, npoint, dtype=torch.long)
    last = torch.zeros(num_clouds, dtype=torch.long)
    for step in range(1, npoint):
        to_last = ((xyz - xyz[rows, last].unsqueeze(1)) ** 2).sum(dim=-1)  # (B, N)
        nearest = torch.where(eligible, torch.minimum(nearest, to_last), nearest)
        # best starts at -1 with index 0: skipped points never win, and with none eligible 0 does
        last = torch.where(eligible, nearest, torch.full_like(nearest, -1.0)).argmax(dim=1)
        picked[:, step] = last
    return picked


def square_distance(src: Tensor, dst: Tensor) -> Tensor:
    """``(B, N, M)`` squared distances as PCT computes them: |a|^2 + |b|^2 - 2 a.b."""
    dist = -2 * src @ dst.transpose(1, 2)
    return dist + (src**2).sum(-1).unsqueeze(-1) + (dst**2).sum(-1).unsqueeze(1)


def index_points(points: Tensor, idx: Tensor) -> Tensor:
    """``points`` (B, N, C) at ``idx`` (B, ...) -> (B, ..., C)."""
    batch = torch.arange(points.shape[0]).view(-1, *([1] * (idx.dim() - 1)))
    return points[batch, idx]


def sample_and_group(npoint: int, nsample: int, xyz: Tensor, points: Tensor) -> tuple[Tensor, Tensor]:
    """PCT's grouping: FPS centres, their ``nsample`` nearest points (unsorted ``topk``), and per
    neighbour ``concat(feature - centre feature, centre feature)``.

    Shapes: xyz (B, N, 3), points (B, N, D) -> new_xyz (B, S, 3), grouped (B, S, nsample, 2 D).
    """
    centres = furthest_point_sample(xyz, npoint)
    new_xyz, new_points = index_points(xyz, centres), index_points(points, centres)
    _, idx = torch.topk(square_distance(new_xyz, xyz), nsample, dim=-1, largest=False, sorted=False)
    centre = new_points.unsqueeze(2)  # (B, S, 1, D)
    grouped = index_points(points, idx) - centre
    return new_xyz, torch.cat([grouped, centre.expand_as(grouped)], dim=-1)


def _conv(c_in: int, c_out: int, bias: bool = False) -> nn.Conv1d:
    return nn.Conv1d(c_in, c_out, kernel_size=1, bias=bias)


class Local_op(nn.Module):  # noqa: N801 - PCT's name, kept so the state dict keys are PCT's
    """Two conv/BN/ReLU over every group's neighbours, then a max over them."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(in_channels, out_channels), _conv(out_channels, out_channels)
        self.bn1, self.bn2 = nn.BatchNorm1d(out_channels), nn.BatchNorm1d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        b, n, s, d = x.shape
        x = x.permute(0, 1, 3, 2).reshape(b * n, d, s)  # every group a "cloud" of s points
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return x.amax(dim=-1).view(b, n, -1).permute(0, 2, 1)  # (B, D_out, S)


class SA_Layer(nn.Module):  # noqa: N801
    """PCT's offset-attention with self-attention: q and k one shared weight."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.q_conv = _conv(channels, channels // 4)
        self.k_conv = _conv(channels, channels // 4)
        self.q_conv.weight = self.k_conv.weight  # one Parameter under two names, as PCT does
        self.v_conv = _conv(channels, channels, bias=True)
        self.trans_conv = _conv(channels, channels, bias=True)
        self.after_norm = nn.BatchNorm1d(channels)

    def forward(self, x: Tensor) -> Tensor:
        energy = self.q_conv(x).transpose(1, 2) @ self.k_conv(x)  # (B, N, N)
        attention = energy.softmax(dim=-1)
        attention = attention / (1e-9 + attention.sum(dim=1, keepdim=True))
        mixed = self.v_conv(x) @ attention  # (B, C, N): column j mixes the values with A[:, j]
        return x + F.relu(self.after_norm(self.trans_conv(x - mixed)))


class Point_Transformer_Last(nn.Module):  # noqa: N801
    def __init__(self, channels: int = 256) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(channels, channels), _conv(channels, channels)
        self.bn1, self.bn2 = nn.BatchNorm1d(channels), nn.BatchNorm1d(channels)
        self.sa1, self.sa2, self.sa3, self.sa4 = (SA_Layer(channels) for _ in range(4))

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        outputs = []
        for layer in (self.sa1, self.sa2, self.sa3, self.sa4):
            x = layer(x)
            outputs.append(x)
        return torch.cat(outputs, dim=1)


class Pct(nn.Module):
    """PCT_Pytorch's classifier; input ``(B, 3, N)`` as its ``main.py`` feeds it."""

    def __init__(self, output_channels: int = 40, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv1, self.conv2 = _conv(3, 64), _conv(64, 64)
        self.bn1, self.bn2 = nn.BatchNorm1d(64), nn.BatchNorm1d(64)
        self.gather_local_0 = Local_op(128, 128)
        self.gather_local_1 = Local_op(256, 256)
        self.pt_last = Point_Transformer_Last()
        self.conv_fuse = nn.Sequential(_conv(1280, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2))
        self.linear1 = nn.Linear(1024, 512, bias=False)
        self.bn6 = nn.BatchNorm1d(512)
        self.dp1 = nn.Dropout(dropout)
        self.linear2 = nn.Linear(512, 256)
        self.bn7 = nn.BatchNorm1d(256)
        self.dp2 = nn.Dropout(dropout)
        self.linear3 = nn.Linear(256, output_channels)

    def forward(self, x: Tensor) -> Tensor:
        xyz = x.permute(0, 2, 1)
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x))).permute(0, 2, 1)  # (B, N, 64)
        new_xyz, grouped = sample_and_group(512, 32, xyz, x)
        feature_0 = self.gather_local_0(grouped)  # (B, 128, 512)
        new_xyz, grouped = sample_and_group(256, 32, new_xyz, feature_0.permute(0, 2, 1))
        feature_1 = self.gather_local_1(grouped)  # (B, 256, 256)
        x = torch.cat([self.pt_last(feature_1), feature_1], dim=1)  # (B, 1280, 256)
        x = self.conv_fuse(x).amax(dim=-1)  # (B, 1024)
        x = self.dp1(F.leaky_relu(self.bn6(self.linear1(x)), 0.2))
        x = self.dp2(F.leaky_relu(self.bn7(self.linear2(x)), 0.2))
        return self.linear3(x)


class PctPartSeg(nn.Module):
    """The Jittor original's ``Point_Transformer_partseg`` in torch; input ``(B, 3, N)`` and the
    one-hot category ``(B, 16)``."""

    def __init__(self, part_num: int = 50, num_categories: int = 16) -> None:
        super().__init__()
        self.num_categories = num_categories
        self.conv1, self.conv2 = _conv(3, 128), _conv(128, 128)
        self.bn1, self.bn2 = nn.BatchNorm1d(128), nn.BatchNorm1d(128)
        self.sa1, self.sa2, self.sa3, self.sa4 = (SA_Layer(128) for _ in range(4))
        self.conv_fuse = nn.Sequential(_conv(512, 1024), nn.BatchNorm1d(1024), nn.LeakyReLU(0.2))
        self.label_conv = nn.Sequential(_conv(num_categories, 64), nn.BatchNorm1d(64), nn.LeakyReLU(0.2))
        self.convs1 = _conv(1024 * 3 + 64, 512, bias=True)
        self.dp1 = nn.Dropout(0.5)
        self.convs2 = _conv(512, 256, bias=True)
        self.convs3 = _conv(256, part_num, bias=True)
        self.bns1, self.bns2 = nn.BatchNorm1d(512), nn.BatchNorm1d(256)

    def forward(self, x: Tensor, cls_label: Tensor) -> Tensor:
        batch, _, num_points = x.shape
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        outputs = []
        for layer in (self.sa1, self.sa2, self.sa3, self.sa4):
            x = layer(x)
            outputs.append(x)
        x = self.conv_fuse(torch.cat(outputs, dim=1))  # (B, 1024, N)
        label = self.label_conv(cls_label.view(batch, self.num_categories, 1))  # (B, 64, 1)
        context = torch.cat([x.amax(dim=-1, keepdim=True), x.mean(dim=-1, keepdim=True), label], dim=1)
        x = torch.cat([x, context.expand(-1, -1, num_points)], dim=1)  # (B, 3 * 1024 + 64, N)
        x = self.dp1(F.relu(self.bns1(self.convs1(x))))
        x = F.relu(self.bns2(self.convs2(x)))
        return self.convs3(x)


def randomise(model: nn.Module, seed: int) -> nn.Module:
    """Draw every weight, bias and BatchNorm statistic afresh, away from any identity: biases and
    running means non-zero, running variances and BN scales spread around 1."""
    generator = torch.Generator().manual_seed(seed)

    def draw(t: Tensor, low: float, high: float) -> Tensor:
        return torch.rand(t.shape, generator=generator, dtype=t.dtype) * (high - low) + low

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv1d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(draw(module.weight, -1.0, 1.0) * (3.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(draw(module.bias, -0.3, 0.3))
            elif isinstance(module, nn.BatchNorm1d):
                module.weight.copy_(draw(module.weight, 0.5, 1.5))
                module.bias.copy_(draw(module.bias, -0.3, 0.3))
                module.running_mean.copy_(draw(module.running_mean, -0.3, 0.3))
                module.running_var.copy_(draw(module.running_var, 0.5, 2.0))
                module.num_batches_tracked.fill_(int(torch.randint(1, 10_000, (1,), generator=generator)))
    return model


def clouds(num_clouds: int, num_points: int, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """``(B, N, 3)`` random points in ellipsoids (each cloud stretched differently), none within
    0.1 of the origin (so the CUDA kernel's skip of points near the origin changes nothing)."""
    generator = torch.Generator().manual_seed(seed)
    directions = torch.randn(num_clouds, num_points, 3, generator=generator, dtype=torch.float64)
    radii = torch.rand(num_clouds, num_points, 1, generator=generator, dtype=torch.float64) * 0.8 + 0.2
    stretch = torch.rand(num_clouds, 1, 3, generator=generator, dtype=torch.float64) * 1.5 + 0.5  # per axis
    return (directions / directions.norm(dim=-1, keepdim=True) * radii * stretch).to(dtype)
