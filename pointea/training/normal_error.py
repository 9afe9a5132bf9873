"""How far estimated normals are from true ones: the loss and the metrics of normal estimation.

Definitions (``n`` the true normal, ``m`` the estimate, both normalised to unit length first;
``c = m . n``):

- **unoriented** (the default): a surface sampled as points has no inside or outside, so ``m``
  and ``-m`` are the same answer. Angle ``= arccos |c|`` in [0, 90] degrees; cosine distance
  ``= 1 - |c|`` in [0, 1].
- **oriented**: the sign counts (a file whose normals point outwards, a consistently oriented
  estimate). Angle ``= arccos c`` in [0, 180] degrees; cosine distance ``= 1 - c`` in [0, 2].

The loss is the mean cosine distance over all points of the batch (:func:`normal_loss`). The
metric (:class:`NormalError`) reports, over every point of every cloud seen:

- ``mean_angle`` and ``median_angle``: angular error in degrees;
- ``under_5`` ... ``under_30``: the share of points whose error is under 5, 10, 20 and 30 degrees
  (exact counts);
- ``cosine_distance``: the mean cosine distance. PCT's normal-estimation table reports an
  "average cosine distance" (about 0.13 for PCT, 0.29 for PointNet++, 0.47 for PointNet); the
  paper's text does not spell out whether the sign is dropped. pointea reports ``1 - |c|``
  (unoriented), or ``1 - c`` with ``oriented=True``, and says which in every report.

Angles are computed as ``atan2(|m x n|, |m . n|)`` in float64, which stays accurate near 0 where
``arccos`` loses precision in float32. The median comes from a histogram state of
``bins_per_degree`` bins per degree (default 100: 0.01-degree bins), interpolated linearly
inside its bin, so it is exact to one bin and costs constant memory however many points are
scored; every state is a sum, so DDP synchronisation (torchmetrics, ``dist_reduce_fx="sum"``)
gives exactly the single-process numbers.

Bad input never becomes a silent NaN: a non-finite or zero-length true normal, or a non-finite
estimate, raises one line (:class:`~pointea.errors.DataError`). True normals that are finite but
not unit length are renormalised (documented above: both sides are normalised first).

Shape legend: B clouds, N points, P points scored in all.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric

from pointea.errors import DataError

__all__ = ["NormalError", "THRESHOLDS", "cosine", "angle_degrees", "normal_loss", "check_normals"]

#: The angular thresholds (degrees) whose share of points is reported.
THRESHOLDS = (5, 10, 20, 30)

#: True normals shorter than this are refused as zero vectors.
MIN_NORM = 1e-6


def check_normals(normals: Tensor, what: str = "the true normals") -> None:
    """Raise one :class:`DataError` line unless every normal is finite and non-zero.

    Shapes:
        normals: (..., 3)
    """
    if normals.shape[-1] != 3:
        raise DataError(f"{what} have shape {tuple(normals.shape)}, expected (..., 3)")
    finite = normals.isfinite().all(dim=-1)  # (...)
    if not bool(finite.all()):
        raise DataError(f"{what} hold {int((~finite).sum())} NaN/Inf vector(s); expected finite unit normals")
    norm = torch.linalg.vector_norm(normals.double(), dim=-1)  # (...)
    zero = norm < MIN_NORM
    if bool(zero.any()):
        raise DataError(
            f"{what} hold {int(zero.sum())} zero-length vector(s) (norm < {MIN_NORM:g}); expected unit normals"
        )


def cosine(estimate: Tensor, truth: Tensor, oriented: bool = False) -> Tensor:
    """Cosine of the angle between each estimate and its true normal (both normalised);
    ``|cos|`` unless ``oriented``.

    Shapes:
        estimate, truth: (..., 3); returns (...)
    """
    value = torch.nn.functional.cosine_similarity(estimate, truth, dim=-1, eps=MIN_NORM)  # (...)
    return value if oriented else value.abs()


def normal_loss(estimate: Tensor, truth: Tensor, oriented: bool = False) -> Tensor:
    """Mean cosine distance: ``1 - |cos|`` (unoriented) or ``1 - cos`` (oriented), over all points.

    Shapes:
        estimate, truth: (B, N, 3); returns a scalar
    """
    return (1.0 - cosine(estimate, truth, oriented)).mean()


def angle_degrees(estimate: Tensor, truth: Tensor, oriented: bool = False) -> Tensor:
    """Angular error in degrees, float64: in [0, 90] unoriented, [0, 180] oriented.

    Shapes:
        estimate, truth: (..., 3); returns (...)
    """
    m, n = estimate.double(), truth.double()
    dot = (m * n).sum(dim=-1)  # (...)
    cross = torch.linalg.vector_norm(torch.linalg.cross(m, n, dim=-1), dim=-1)  # (...)
    return torch.rad2deg(torch.atan2(cross, dot if oriented else dot.abs()))


class NormalError(Metric):
    """Angular error statistics of estimated normals over every point seen (see the module
    docstring for the definitions).

    Args:
        oriented: score signed normals (``1 - cos``) instead of sign-free ones (``1 - |cos|``).
        bins_per_degree: resolution of the median's histogram.

    ``update(estimate (B, N, 3), truth (B, N, 3))``, or any ``(..., 3)`` pair; ``compute()``
    returns ``{"mean_angle", "median_angle", "under_5", "under_10", "under_20", "under_30",
    "cosine_distance", "points"}`` as float64 tensors (angles in degrees, shares in [0, 1]).
    """

    full_state_update = False
    higher_is_better = False

    def __init__(self, oriented: bool = False, bins_per_degree: int = 100, **kwargs) -> None:
        super().__init__(**kwargs)
        if bins_per_degree < 1:
            raise ValueError(f"NormalError: bins_per_degree must be >= 1, got {bins_per_degree}")
        self.oriented = oriented
        self.max_angle = 180.0 if oriented else 90.0
        self.bins_per_degree = bins_per_degree
        bins = int(self.max_angle * bins_per_degree)
        zero = torch.zeros((), dtype=torch.float64)
        self.add_state("points", default=zero.clone(), dist_reduce_fx="sum")
        self.add_state("angle_sum", default=zero.clone(), dist_reduce_fx="sum")
        self.add_state("distance_sum", default=zero.clone(), dist_reduce_fx="sum")
        self.add_state("under", default=torch.zeros(len(THRESHOLDS), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("histogram", default=torch.zeros(bins, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, estimate: Tensor, truth: Tensor) -> None:
        """Shapes: estimate, truth (..., 3), the same shape."""
        if estimate.shape != truth.shape:
            raise ValueError(f"NormalError: estimate {tuple(estimate.shape)} and truth {tuple(truth.shape)} differ")
        check_normals(truth)
        if not bool(estimate.isfinite().all()):
            raise DataError("the estimated normals hold NaN/Inf values: the model diverged on this input")
        angle = angle_degrees(estimate, truth, self.oriented).flatten()  # (P,)
        distance = 1.0 - cosine(estimate.double(), truth.double(), self.oriented).flatten()  # (P,)
        self.points += angle.numel()
        self.angle_sum += angle.sum()
        self.distance_sum += distance.sum()
        thresholds = torch.tensor(THRESHOLDS, dtype=angle.dtype, device=angle.device)  # (T,)
        self.under += (angle[:, None] < thresholds).sum(dim=0).to(self.under.dtype)  # (P, T) -> (T,)
        bins = self.histogram.numel()
        index = (angle * self.bins_per_degree).long().clamp_(0, bins - 1)  # (P,)
        self.histogram += torch.bincount(index, minlength=bins).to(self.histogram.dtype)

    def compute(self) -> dict[str, Tensor]:
        if self.points == 0:
            raise ValueError("NormalError: no points were scored (call update first)")
        scores = {
            "mean_angle": self.angle_sum / self.points,
            "median_angle": self._median(),
            "cosine_distance": self.distance_sum / self.points,
            "points": self.points.clone(),
        }
        for threshold, count in zip(THRESHOLDS, self.under):
            scores[f"under_{threshold}"] = count / self.points
        return scores

    def _median(self) -> Tensor:
        """The 50 % quantile of the histogram, interpolated linearly inside its bin."""
        cumulative = self.histogram.cumsum(0)  # (bins,)
        half = self.points / 2
        index = int(torch.searchsorted(cumulative, half))  # first bin whose cumulative count reaches half
        before = cumulative[index - 1] if index > 0 else cumulative.new_zeros(())
        inside = (half - before) / self.histogram[index]
        return (index + inside) / self.bins_per_degree
