"""What scenes add to the object transforms: colour jitter and drop, grid subsampling, class weights.

The geometric augmentations of a crop (z-rotation, scaling, jitter) are the object transforms of
:mod:`pointea.data.transforms` (``RotateUp(axis=2)``, ``ScaleTranslate``, ``Jitter``); these act on
the same sample dicts, whose ``"colors"`` entry is float32 (N, 3) in [0, 1].

Shape legend: N points in, K points out, V occupied voxels, C classes.
"""

from __future__ import annotations

import numpy as np

from pointea.errors import ConfigError

__all__ = ["ColorJitter", "ColorDrop", "grid_subsample", "class_weights", "CLASS_WEIGHTINGS"]


class ColorJitter:
    """Add Gaussian noise of ``std`` to every colour channel, clipped to [0, 1] (Pointcept's
    ``ChromaticJitter``, std 0.05 of the colour range)."""

    def __init__(self, std: float = 0.05) -> None:
        if not std >= 0:
            raise ConfigError(f"ColorJitter: std must be >= 0, got {std}")
        self.std = std

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        if "colors" not in sample or self.std == 0:
            return sample
        colors = sample["colors"]
        noise = rng.standard_normal(colors.shape, dtype=np.float32) * np.float32(self.std)
        return {**sample, "colors": np.clip(colors + noise, 0.0, 1.0)}

    def __repr__(self) -> str:
        return f"ColorJitter(std={self.std})"


class ColorDrop:
    """With probability ``p``, set the whole crop's colours to 0 (so the network cannot lean on
    colour alone; Pointcept's ``RandomColorDrop``)."""

    def __init__(self, p: float = 0.2) -> None:
        if not 0 <= p <= 1:
            raise ConfigError(f"ColorDrop: p must be in [0, 1], got {p}")
        self.p = p

    def __call__(self, sample: dict, rng: np.random.Generator) -> dict:
        if "colors" not in sample or rng.random() >= self.p:
            return sample
        return {**sample, "colors": np.zeros_like(sample["colors"])}

    def __repr__(self) -> str:
        return f"ColorDrop(p={self.p})"


def grid_subsample(
    points: np.ndarray, cell: float, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Indices of one point per occupied ``cell``-metre voxel (a random one with ``rng``, else the
    first), to even out lidar density. Labels stay exact: kept points are original points.

    Shapes:
        points (N, 3) -> indices (V,) int64, sorted
    """
    if not cell > 0:
        raise ConfigError(f"grid_subsample: cell must be a positive number of metres, got {cell}")
    if points.shape[0] == 0:
        return np.empty(0, dtype=np.int64)
    order = rng.permutation(points.shape[0]) if rng is not None else np.arange(points.shape[0])
    voxel = np.floor((points[order] - points.min(axis=0)) / cell).astype(np.int64)  # (N, 3)
    extent = voxel.max(axis=0) + 1  # (3,)
    key = (voxel[:, 0] * extent[1] + voxel[:, 1]) * extent[2] + voxel[:, 2]  # (N,)
    _, first = np.unique(key, return_index=True)  # first occurrence in ``order`` per voxel
    return np.sort(order[first])


#: ``"inverse"``: 1/f; ``"inverse_sqrt"``: 1/sqrt(f); ``"log"``: PointNet++'s 1/log(1.2 + f).
CLASS_WEIGHTINGS = ("inverse", "inverse_sqrt", "log")


def class_weights(counts: np.ndarray, kind: str = "log") -> np.ndarray:
    """Cross-entropy weights from per-class point counts, scaled to mean 1 over the classes present;
    an absent class gets weight 0 (it cannot be learned from this split anyway).

    Shapes:
        counts (C,) -> (C,) float32
    """
    if kind not in CLASS_WEIGHTINGS:
        raise ConfigError(
            f"class weighting must be one of {', '.join(CLASS_WEIGHTINGS)}, got {kind!r}"
        )
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    if not present.any():
        raise ConfigError("class weights: no class has any point")
    frequency = counts / counts.sum()
    weights = np.zeros_like(frequency)
    if kind == "inverse":
        weights[present] = 1.0 / frequency[present]
    elif kind == "inverse_sqrt":
        weights[present] = 1.0 / np.sqrt(frequency[present])
    else:
        weights[present] = 1.0 / np.log(1.2 + frequency[present])
    weights[present] /= weights[present].mean()
    return weights.astype(np.float32)
