"""Scene crops and scene transforms: counts, extents, nearest points, grid thinning, class weights."""

from __future__ import annotations

import numpy as np
import pytest

from pointea.data.crops import CROP_PRESETS, BlockCrop, SphereCrop, build_crop
from pointea.data.scene_transforms import ColorDrop, ColorJitter, class_weights, grid_subsample
from pointea.errors import ConfigError


def _floor(count: int, size: float, seed: int = 0) -> np.ndarray:
    """Points spread over a size x size x 1 m slab.  Shapes: (count, 3) float32."""
    rng = np.random.default_rng(seed)
    return (rng.random((count, 3)) * [size, size, 1.0]).astype(np.float32)


def test_block_crop_keeps_a_column_of_the_asked_size_and_count() -> None:
    points = _floor(80_000, 10.0)  # 800 points per m^2
    crop = BlockCrop(size=1.0, num_points=512, min_points=512)  # retried off the edges
    index = crop(points, np.random.default_rng(1))
    assert index.shape == (512,)
    kept = points[index]
    assert (kept[:, :2].max(axis=0) - kept[:, :2].min(axis=0) <= 1.0 + 1e-6).all()
    assert np.unique(index).size == 512  # min_points reached: no repeats


def test_block_crop_with_few_points_keeps_every_point_near_the_centre() -> None:
    points = _floor(2_000, 10.0)  # 20 points per m^2, far fewer than asked
    crop = BlockCrop(size=1.0, num_points=256, min_points=1)
    index = crop(points, np.random.default_rng(3))
    assert index.shape == (256,)
    centre_of = points[index][:, :2]
    low, high = centre_of.min(axis=0), centre_of.max(axis=0)
    # every point of the scene inside the (smaller) bounding box of the crop is in the crop
    inside = np.flatnonzero(((points[:, :2] >= low) & (points[:, :2] <= high)).all(axis=1))
    assert set(inside) <= set(index)


def test_sphere_crop_keeps_the_nearest_points_within_its_radius() -> None:
    points = _floor(20_000, 4.0)
    crop = SphereCrop(radius=1.0, num_points=300, min_points=10)
    rng = np.random.default_rng(5)
    index = crop(points, rng)
    assert np.unique(index).size == 300
    rng = np.random.default_rng(5)
    centre = points[rng.integers(points.shape[0])]
    distance = np.linalg.norm(points - centre, axis=1)
    assert distance[index].max() <= 1.0
    outside = np.setdiff1d(np.arange(points.shape[0]), index)
    assert distance[index].max() <= distance[outside].min() + 1e-6


def test_candidates_narrow_the_search_without_changing_the_crop() -> None:
    points = _floor(30_000, 8.0)
    crop = BlockCrop(size=1.0, num_points=400, min_points=50)
    cell = 2.0
    cells = np.floor(points[:, :2] / cell).astype(int)  # (N, 2)
    calls = []

    def candidates(centre: np.ndarray, reach: float) -> np.ndarray:
        low, high = np.floor((centre[:2] - reach) / cell), np.floor((centre[:2] + reach) / cell)
        calls.append(reach)
        return np.flatnonzero(((cells >= low) & (cells <= high)).all(axis=1))

    plain = crop(points, np.random.default_rng(7))
    narrowed = crop(points, np.random.default_rng(7), candidates=candidates)
    assert calls and calls[0] == 0.5
    np.testing.assert_array_equal(plain, narrowed)


def test_grid_thinning_keeps_one_point_per_voxel() -> None:
    points = _floor(5_000, 2.0)
    index = grid_subsample(points, 0.25, np.random.default_rng(0))
    voxels = np.floor((points - points.min(axis=0)) / 0.25).astype(int)
    assert np.unique(voxels[index], axis=0).shape[0] == index.shape[0]  # one per voxel
    assert index.shape[0] == np.unique(voxels, axis=0).shape[0]  # every occupied voxel
    crop = BlockCrop(size=2.0, num_points=64, min_points=1)
    thinned = crop(points, np.random.default_rng(0), grid=0.5)
    kept = np.unique(thinned)
    assert (
        np.unique(np.floor((points[kept] - points[kept].min(axis=0)) / 0.5), axis=0).shape[0]
        <= kept.size
    )


def test_presets_and_overrides() -> None:
    assert (CROP_PRESETS["pointnet"].size, CROP_PRESETS["pointnet"].num_points) == (1.0, 4096)
    assert (CROP_PRESETS["large"].size, CROP_PRESETS["large"].num_points) == (4.0, 32768)
    assert (CROP_PRESETS["lidar"].size, CROP_PRESETS["lidar"].num_points) == (20.0, 4096)
    sphere = build_crop("large", "sphere", 3.0, 1000)
    assert isinstance(sphere, SphereCrop) and sphere.radius == 3.0 and sphere.num_points == 1000
    with pytest.raises(ConfigError, match="crop preset"):
        build_crop("huge")
    with pytest.raises(ConfigError, match="num_points"):
        BlockCrop(num_points=0)
    with pytest.raises(ConfigError, match="size"):
        BlockCrop(size=-1.0)


def test_colour_transforms() -> None:
    rng = np.random.default_rng(0)
    sample = {
        "points": np.zeros((100, 3), np.float32),
        "colors": rng.random((100, 3)).astype(np.float32),
    }
    dropped = ColorDrop(p=1.0)(sample, rng)
    assert (dropped["colors"] == 0).all() and (sample["colors"] > 0).any()  # input untouched
    jittered = ColorJitter(std=0.5)(sample, rng)["colors"]
    assert (
        jittered.min() >= 0 and jittered.max() <= 1 and not np.allclose(jittered, sample["colors"])
    )
    assert ColorDrop(p=0.0)(sample, rng) is sample


def test_class_weights_favour_rare_classes_and_zero_absent_ones() -> None:
    counts = np.array([1000, 10, 0, 100])
    for kind in ("inverse", "inverse_sqrt", "log"):
        weights = class_weights(counts, kind)
        assert weights[2] == 0
        assert weights[1] > weights[3] > weights[0]
        assert np.isclose(weights[[0, 1, 3]].mean(), 1.0)
    with pytest.raises(ConfigError, match="weighting"):
        class_weights(counts, "median")
