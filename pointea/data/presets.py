"""Named transform pipelines, the ``augment`` choice of the data modules.

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
"""

from __future__ import annotations

from typing import Literal, get_args

from pointea.data.transforms import (
    Compose,
    Jitter,
    NormalizeUnitSphere,
    PointDropout,
    Resample,
    RotateSO3,
    RotateUp,
    ScaleTranslate,
    Shuffle,
    Transform,
)

__all__ = ["Augmentation", "Sampling", "AUGMENTATIONS", "build_transform"]

Augmentation = Literal["pct", "pct_jitter", "pointnet2", "rotate_up", "so3", "none"]
Sampling = Literal["random", "fps"]
AUGMENTATIONS: tuple[str, ...] = get_args(Augmentation)


def _augmentation(name: str) -> list[Transform]:
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
    raise ValueError(f"augment must be one of {', '.join(AUGMENTATIONS)}; got {name!r}")


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
    if sampling not in get_args(Sampling):
        raise ValueError(f"sampling must be 'random' or 'fps'; got {sampling!r}")
    steps: list[Transform] = [NormalizeUnitSphere()] if normalize else []
    if not train:
        return Compose([*steps, Resample(num_points, "fps" if sampling == "fps" else "first")])
    steps.append(Resample(num_points, sampling))
    if sampling == "fps":
        steps.append(Shuffle())
    return Compose([*steps, *_augmentation(augment)])
