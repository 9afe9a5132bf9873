"""The synthetic sets: deterministic, in the published layouts, labelled in the standard spaces."""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from pointea.data.modelnet40 import ModelNet40
from pointea.data.shapenetpart import ShapeNetPart
from pointea.data.synthetic import (
    CLASS_NAMES,
    PART_CATEGORIES,
    generate_classification,
    generate_parts,
    write_synthetic_modelnet40,
    write_synthetic_shapenetpart,
)
from pointea.data.synthetic.geometry import box, sample_surface


def test_classification_set_is_deterministic_and_seed_dependent() -> None:
    a, la = generate_classification(3, np.random.default_rng(7), num_points=256)
    b, lb = generate_classification(3, np.random.default_rng(7), num_points=256)
    c, _ = generate_classification(3, np.random.default_rng(8), num_points=256)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(la, lb)
    assert not np.allclose(a, c)


def test_classification_set_is_balanced_normalised_and_varied() -> None:
    points, labels = generate_classification(6, np.random.default_rng(0), num_points=512)
    assert len(CLASS_NAMES) >= 10 and len(set(CLASS_NAMES)) == len(CLASS_NAMES)
    assert points.shape == (6 * len(CLASS_NAMES), 512, 3) and points.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(labels), np.full(len(CLASS_NAMES), 6))
    radius = np.linalg.norm(points - points.mean(axis=1, keepdims=True), axis=-1).max(axis=1)
    assert radius.max() < 1.06 and radius.min() > 0.7  # unit sphere, random size in [0.75, 1]
    # size is drawn alike for every class: no class is separable by its extent alone
    per_class = [radius[labels == k] for k in range(len(CLASS_NAMES))]
    assert max(r.min() for r in per_class) < min(r.max() for r in per_class)
    assert np.unique(labels[:12]).size > 3, "shapes are shuffled, not grouped by class"


def test_sphere_points_lie_on_a_surface_not_in_a_volume() -> None:
    points, labels = generate_classification(4, np.random.default_rng(0), num_points=2048)
    spheres = points[labels == CLASS_NAMES.index("sphere")]
    radius = np.linalg.norm(spheres - spheres.mean(axis=1, keepdims=True), axis=-1)  # (S, P)
    # an (anisotropically scaled) sphere surface: no point near the centre
    assert (radius.min(axis=1) / radius.max(axis=1)).min() > 0.6


def test_surface_sampling_is_uniform_by_area_and_skips_zero_area() -> None:
    big = box(np.zeros((1, 3)), np.array([[1.0, 1.0, 1.0]]))  # area 24
    small = box(np.full((1, 3), 5.0), np.array([[0.5, 0.5, 0.5]]))  # area 6
    gone = box(np.full((1, 3), -5.0), np.zeros((1, 3)))  # zero area
    triangles = np.concatenate([big, small, gone], axis=1)  # (1, 36, 3, 3)
    points, index = sample_surface(triangles, 20000, np.random.default_rng(0))
    on_small = (index >= 12) & (index < 24)
    assert on_small.mean() == pytest.approx(6 / 30, abs=0.01)
    assert not (index >= 24).any()
    on_big = points[~on_small]
    assert np.allclose(np.abs(on_big).max(axis=-1), 1.0)  # every point on a face of the cube


def test_part_set_uses_real_category_ids_and_their_part_ranges() -> None:
    points, categories, parts = generate_parts(4, np.random.default_rng(0), num_points=1024)
    assert len(PART_CATEGORIES) >= 4
    expected = sorted(ShapeNetPart.CATEGORIES.index(c) for c in PART_CATEGORIES)
    assert sorted(set(categories.tolist())) == expected
    for shape in range(len(categories)):
        name = ShapeNetPart.CATEGORIES[categories[shape]]
        used = set(parts[shape].tolist())
        assert used <= set(ShapeNetPart.PARTS_PER_CATEGORY[name]), name
        assert len(used) >= 2, f"{name} should be assembled from 2+ parts"


def test_parts_are_where_they_belong() -> None:
    points, categories, parts = generate_parts(6, np.random.default_rng(1), num_points=2048)
    height = points[..., 1]
    for shape in np.flatnonzero(categories == ShapeNetPart.CATEGORIES.index("Table")):
        assert height[shape][parts[shape] == 47].mean() > height[shape][parts[shape] == 48].mean()
    for shape in np.flatnonzero(categories == ShapeNetPart.CATEGORIES.index("Lamp")):
        assert height[shape][parts[shape] == 25].mean() > height[shape][parts[shape] == 24].mean()
    for shape in np.flatnonzero(categories == ShapeNetPart.CATEGORIES.index("Rocket")):
        assert height[shape][parts[shape] == 43].mean() > height[shape][parts[shape] == 41].mean()


def test_written_sets_are_read_by_the_archive_loaders(tmp_path: Path) -> None:
    started = time.perf_counter()
    mn = write_synthetic_modelnet40(tmp_path, seed=3, train_per_class=4, test_per_class=2)
    sp = write_synthetic_shapenetpart(tmp_path, seed=3, train_per_category=4, val_per_category=2, test_per_category=2)
    assert time.perf_counter() - started < 20  # a loose bound; the default sets take about a second
    assert mn == tmp_path / "modelnet40_ply_hdf5_2048" and sp == tmp_path / "shapenet_part_seg_hdf5_data"
    train = ModelNet40(tmp_path, "train")
    assert len(train) == 4 * len(CLASS_NAMES) and train.class_names == list(CLASS_NAMES)
    assert train.points.shape[1] == 2048
    with h5py.File(mn / "ply_data_train0.h5") as f:  # the published dtypes and shapes
        assert f["data"].dtype == np.float32 and f["label"].dtype == np.uint8
        assert f["label"].shape == (len(train), 1)
    assert [len(ShapeNetPart(tmp_path, s)) for s in ShapeNetPart.SPLITS] == [
        n * len(PART_CATEGORIES) for n in (4, 2, 2)
    ]
    with h5py.File(sp / "ply_data_val0.h5") as f:
        assert f["pid"].dtype == np.uint8 and f["pid"].shape == (2 * len(PART_CATEGORIES), 2048)
    # same seed, same bytes of data; a different seed, different data
    again = write_synthetic_modelnet40(tmp_path / "again", seed=3, train_per_class=4, test_per_class=2)
    other = write_synthetic_modelnet40(tmp_path / "other", seed=4, train_per_class=4, test_per_class=2)
    np.testing.assert_array_equal(ModelNet40(again.parent, "test").points, ModelNet40(tmp_path, "test").points)
    assert not np.allclose(ModelNet40(other.parent, "test").points, ModelNet40(tmp_path, "test").points)


def test_writing_never_leaves_a_partial_folder(tmp_path: Path) -> None:
    write_synthetic_modelnet40(tmp_path, train_per_class=1, test_per_class=1)
    with pytest.raises(FileExistsError):
        write_synthetic_modelnet40(tmp_path, train_per_class=1, test_per_class=1)
    with pytest.raises(ValueError):
        write_synthetic_shapenetpart(tmp_path, train_per_category=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["modelnet40_ply_hdf5_2048"]
