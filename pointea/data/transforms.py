"""Point-cloud transforms: small composable callables applied per shape on numpy arrays.

A *sample* maps names to per-point arrays: ``"points"`` (N, 3) float32 always, plus any per-point
labels (``"parts"`` (N,) int64 for segmentation) or unit normals (``"normals"`` (N, 3) float32, for
normal estimation). Every entry has N rows, and every transform that
reorders, drops or duplicates points does it through one index applied to all entries
(:func:`take_points`), so per-point labels follow every permutation and resampling. Transforms never
write into their input arrays (the dataset's arrays are shared with DataLoader workers); each
``__call__`` takes the random generator explicitly, which keeps them deterministic under test.

Normals follow every map of the points: a linear map ``p -> A p + t`` (rotations, per-axis
scaling) takes a normal to ``A^-T n``, renormalised (the inverse-transpose rule; for a rotation it
is the rotation itself, for a per-axis scale ``D`` it divides by ``D``); translations, the
isotropic scaling of :class:`NormalizeUnitSphere` and :class:`Jitter`'s noise leave them as they are.

Named pipelines, the ``augment`` choice of the data modules (:func:`build_transform`).
Training pipeline: [normalise] -> resample to ``num_points`` -> the named augmentation.
Evaluation pipeline: [normalise] -> deterministic resample (first points, or FPS). No randomness.

Augmentations (``augment``):
    ``"pct"``: PCT's recipe, anisotropic scale [2/3, 3/2] and shift [-0.2, 0.2] (the default).
    ``"pct_jitter"``: PCT's recipe plus clipped Gaussian jitter (sigma 0.01, clip 0.05).
    ``"pointnet2"``: point dropout (up to 87.5 %), isotropic scale [0.8, 1.25], shift 0.1, jitter.
    ``"rotate_up"``: random rotation about the up (y) axis, then jitter.
    ``"so3"``: random rotation from SO(3), then jitter.
    ``"none"``: resampling only.

Points come out in random order: random resampling draws them in random order, and after FPS
resampling the training pipeline adds an explicit shuffle.

Shape legend: N points in, K points out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, Protocol, get_args

import numpy as np
import torch

from pointea.data.arguments import check_choice
from pointea.errors import DataError
from pointea.layers.sampling import fps

__all__ = [
    "AUGMENTATIONS",
    "Augmentation",
    "Sampling",
    "build_transform",
    "Sample",
    "Transform",
    "take_points",
    "Compose",
    "Resample",
    "ScaleTranslate",
    "Jitter",
    "RotateUp",
    "RotateSO3",
    "PointDropout",
    "Shuffle",
    "NormalizeUnitSphere",
]

Sample = dict[str, np.ndarray]


class Transform(Protocol):
    """What every transform is: ``sample, rng -> sample``."""

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample: ...


def take_points(sample: Sample, index: np.ndarray) -> Sample:
    """Select (reorder, subsample, repeat) points in every per-point entry of ``sample``.

    Shapes:
        sample values: (N, ...); index: (K,) int; returns values (K, ...)
    """
    return {key: value[index] for key, value in sample.items()}


def _with_points(sample: Sample, points: np.ndarray) -> Sample:
    """``sample`` with new coordinates (other entries shared, not copied)."""
    return {**sample, "points": points}


def _linear(sample: Sample, matrix: np.ndarray, shift: np.ndarray | None = None) -> Sample:
    """Map row-vector points ``p' = p A^T + t`` and any normals by the inverse transpose,
    ``n' = n A^-1``, renormalised.  Shapes: matrix (3, 3); shift (3,)."""
    points = sample["points"] @ matrix.T.astype(np.float32)  # (N, 3)
    if shift is not None:
        points = points + shift.astype(np.float32)
    mapped = _with_points(sample, points)
    if "normals" in sample:
        normals = sample["normals"] @ np.linalg.inv(matrix).astype(np.float32)  # (N, 3)
        mapped["normals"] = normals / np.linalg.norm(normals, axis=1, keepdims=True)
    return mapped


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        for transform in self.transforms:
            sample = transform(sample, rng)
        return sample

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class Resample:
    """Bring a cloud to exactly ``num_points`` points.

    Methods:
        ``"random"``: a uniformly random subset without replacement, in random order (so no extra
        shuffle is needed); used for training.
        ``"first"``: the first ``num_points`` points, deterministic. The archives store their
        points in random order, so this is the customary evaluation subset (PCT, DGCNN).
        ``"fps"``: farthest point sampling from the first point, deterministic, spread evenly.

    A cloud with fewer than ``num_points`` points keeps all of its points and repeats some
    (random draws with replacement for ``"random"``, cyclic repetition otherwise). Nothing else
    is ever dropped: the only subsampling is the documented one to ``num_points``.

    Shapes:
        sample values: (N, ...) -> (K, ...), K = num_points
    """

    def __init__(self, num_points: int, method: Literal["random", "first", "fps"] = "random") -> None:
        if num_points < 1:
            raise ValueError(f"Resample: num_points must be >= 1, got {num_points}")
        check_choice("Resample: method", method, ("random", "first", "fps"))
        self.num_points = num_points
        self.method = method

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        count = sample["points"].shape[0]
        if count == 0:
            raise ValueError("Resample: the cloud is empty (0 points)")
        wanted = self.num_points
        if count >= wanted:
            if self.method == "random":
                index = rng.permutation(count)[:wanted]
            elif self.method == "first":
                index = np.arange(wanted)
            else:
                index = self._fps(sample["points"], wanted)
        elif self.method == "random":
            extra = rng.integers(count, size=wanted - count)
            index = rng.permutation(np.concatenate([np.arange(count), extra]))
        else:
            index = np.resize(np.arange(count), wanted)
        return take_points(sample, index)

    @staticmethod
    def _fps(points: np.ndarray, wanted: int) -> np.ndarray:
        picked = fps(torch.from_numpy(np.ascontiguousarray(points)), wanted)
        return picked.numpy()

    def __repr__(self) -> str:
        return f"Resample(num_points={self.num_points}, method={self.method!r})"


class ScaleTranslate:
    """PCT's augmentation: random scale per axis in [low, high], then a random shift per axis.

    Defaults are PCT's recipe: anisotropic scale in [2/3, 3/2], shift in [-0.2, 0.2].
    With ``anisotropic=False`` one scale factor is drawn for all axes.
    """

    def __init__(
        self, low: float = 2.0 / 3.0, high: float = 1.5, shift: float = 0.2, anisotropic: bool = True
    ) -> None:
        if not 0 < low <= high:
            raise ValueError(f"ScaleTranslate: need 0 < low <= high, got low={low}, high={high}")
        self.low, self.high, self.shift, self.anisotropic = low, high, shift, anisotropic

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        scale = rng.uniform(self.low, self.high, size=3 if self.anisotropic else 1)
        shift = rng.uniform(-self.shift, self.shift, size=3)
        return _linear(sample, np.diag(np.broadcast_to(scale, 3)), shift)

    def __repr__(self) -> str:
        return (
            f"ScaleTranslate(low={self.low:.4g}, high={self.high:.4g}, shift={self.shift}, "
            f"anisotropic={self.anisotropic})"
        )


class Jitter:
    """Add clipped Gaussian noise to every coordinate (PointNet: sigma 0.01, clip 0.05)."""

    def __init__(self, sigma: float = 0.01, clip: float = 0.05) -> None:
        self.sigma, self.clip = sigma, clip

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        points = sample["points"]
        noise = rng.standard_normal(points.shape, dtype=np.float32) * np.float32(self.sigma)
        return _with_points(sample, points + np.clip(noise, -self.clip, self.clip))

    def __repr__(self) -> str:
        return f"Jitter(sigma={self.sigma}, clip={self.clip})"


def _rotate(sample: Sample, rotation: np.ndarray) -> Sample:
    """Rotate row-vector points (p' = p R^T) and normals alike.  Shapes: rotation (3, 3)."""
    return _linear(sample, rotation)


class RotateUp:
    """Rotate by a uniform random angle about the up axis (y in ModelNet40 and ShapeNetPart)."""

    def __init__(self, axis: int = 1) -> None:
        if axis not in (0, 1, 2):
            raise ValueError(f"RotateUp: axis must be 0, 1 or 2, got {axis}")
        self.axis = axis

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        angle = rng.uniform(0.0, 2.0 * math.pi)
        cos, sin = math.cos(angle), math.sin(angle)
        i, j = [a for a in range(3) if a != self.axis]
        rotation = np.eye(3)
        rotation[i, i], rotation[i, j], rotation[j, i], rotation[j, j] = cos, -sin, sin, cos
        return _rotate(sample, rotation)

    def __repr__(self) -> str:
        return f"RotateUp(axis={self.axis})"


class RotateSO3:
    """Rotate by a rotation drawn uniformly from SO(3) (a normalised Gaussian quaternion)."""

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        w, x, y, z = _unit_quaternion(rng)
        rotation = np.array(
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        )
        return _rotate(sample, rotation)

    def __repr__(self) -> str:
        return "RotateSO3()"


def _unit_quaternion(rng: np.random.Generator) -> np.ndarray:
    """A quaternion uniform on the 3-sphere, hence a rotation uniform on SO(3).  Shapes: (4,)."""
    quaternion = rng.standard_normal(4)
    return quaternion / np.linalg.norm(quaternion)


class PointDropout:
    """PointNet++'s random point dropout with a constant point count.

    Draws a ratio in [0, max_ratio], drops each point with that probability and replaces every
    dropped point by a copy of the first kept point (labels included), so N stays fixed.
    """

    def __init__(self, max_ratio: float = 0.875) -> None:
        if not 0 <= max_ratio < 1:
            raise ValueError(f"PointDropout: max_ratio must be in [0, 1), got {max_ratio}")
        self.max_ratio = max_ratio

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        count = sample["points"].shape[0]
        dropped = rng.random(count) < rng.uniform(0.0, self.max_ratio)  # (N,)
        if not dropped.any():
            return sample
        kept = np.flatnonzero(~dropped)
        index = np.arange(count)
        index[dropped] = kept[0] if kept.size else 0
        return take_points(sample, index)

    def __repr__(self) -> str:
        return f"PointDropout(max_ratio={self.max_ratio})"


class Shuffle:
    """Randomly permute the points (and their labels)."""

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        return take_points(sample, rng.permutation(sample["points"].shape[0]))

    def __repr__(self) -> str:
        return "Shuffle()"


class NormalizeUnitSphere:
    """Centre on the centroid and scale so the farthest point lies on the unit sphere.

    Computed in float64: in float32 the squared radius overflows to inf from coordinates near
    1.8e19 on, and dividing by it turned every such cloud into zeros. In float64 any finite
    float32 cloud normalises correctly; a cloud holding NaN/Inf is refused with a
    :class:`~pointea.errors.DataError` instead of becoming NaN or zeros. A cloud whose
    points all coincide is only centred (its radius is 0).
    """

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        points = np.asarray(sample["points"], dtype=np.float64)  # (N, 3)
        with np.errstate(over="ignore", invalid="ignore"):  # refused just below instead
            centred = points - points.mean(axis=0, keepdims=True)
            radius = float(np.sqrt((centred * centred).sum(axis=1).max()))
        if not math.isfinite(radius):
            raise DataError(
                f"NormalizeUnitSphere: the cloud's radius is {radius} (its coordinates reach "
                f"{float(np.abs(points).max()):.4g}); expected finite coordinates"
            )
        if radius > 0:
            centred = centred / radius
        return _with_points(sample, centred.astype(np.float32))

    def __repr__(self) -> str:
        return "NormalizeUnitSphere()"


Augmentation = Literal["pct", "pct_jitter", "pointnet2", "rotate_up", "so3", "none"]
Sampling = Literal["random", "fps"]
AUGMENTATIONS: tuple[str, ...] = get_args(Augmentation)


def _augmentation(name: str) -> list[Transform]:
    check_choice("augment", name, AUGMENTATIONS)
    if name == "pct":
        return [ScaleTranslate()]
    if name == "pct_jitter":
        return [ScaleTranslate(), Jitter()]
    if name == "pointnet2":
        return [PointDropout(), ScaleTranslate(0.8, 1.25, shift=0.1, anisotropic=False), Jitter()]
    if name == "rotate_up":
        return [RotateUp(), Jitter()]
    if name == "so3":
        return [RotateSO3(), Jitter()]
    if name == "none":
        return []
    raise AssertionError(name)  # unreachable: a name of AUGMENTATIONS without its pipeline


def build_transform(
    num_points: int,
    *,
    train: bool,
    augment: str = "pct",
    sampling: str = "random",
    normalize: bool = False,
) -> Compose:
    """The pipeline for one split.

    Args:
        num_points: points per served cloud.
        train: training pipeline (random) or evaluation pipeline (deterministic).
        augment: one of :data:`AUGMENTATIONS`; ignored when ``train`` is False.
        sampling: ``"random"`` subsets for training (``"first"`` points at evaluation), or
            ``"fps"`` for both.
        normalize: centre and scale every cloud into the unit sphere first (the published archives
            are already normalised; useful for your own data).
    """
    check_choice("sampling", sampling, get_args(Sampling))
    steps: list[Transform] = [NormalizeUnitSphere()] if normalize else []
    if not train:
        return Compose([*steps, Resample(num_points, "fps" if sampling == "fps" else "first")])
    steps.append(Resample(num_points, sampling))
    if sampling == "fps":
        steps.append(Shuffle())
    return Compose([*steps, *_augmentation(augment)])
