"""Transforms: value ranges, determinism, and per-point labels following every reordering."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pointea.data.transforms import AUGMENTATIONS, build_transform
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
)
from pointea.layers.sampling import fps as farthest_point_sampling


def make_sample(count: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    """A cloud whose per-point label is the point's own row number (so we can track points)."""
    rng = np.random.default_rng(seed)
    return {
        "points": rng.uniform(-1, 1, size=(count, 3)).astype(np.float32),
        "parts": np.arange(count, dtype=np.int64),
    }


def assert_labels_follow(original: dict, result: dict) -> None:
    """Every output point is the original point its label names (bit-exact)."""
    np.testing.assert_array_equal(result["points"], original["points"][result["parts"]])


@pytest.mark.parametrize("transform", [Resample(40, "random"), Resample(40, "first"), Resample(40, "fps"),
                                       Resample(250, "random"), Resample(250, "fps"), Shuffle(),
                                       PointDropout(0.8)])  # fmt: skip
def test_reordering_transforms_keep_labels_with_their_points(transform) -> None:
    sample = make_sample()
    result = transform(sample, np.random.default_rng(3))
    assert result["points"].dtype == np.float32
    assert result["points"].shape[0] == result["parts"].shape[0]
    assert_labels_follow(sample, result)


def test_random_resample_is_a_subset_without_replacement_in_random_order() -> None:
    sample = make_sample(100)
    result = Resample(60, "random")(sample, np.random.default_rng(0))
    chosen = result["parts"]
    assert chosen.shape == (60,) and np.unique(chosen).size == 60
    assert not np.all(np.diff(chosen) > 0), "subset should come out shuffled"


def test_upsampling_keeps_every_point_and_only_repeats() -> None:
    sample = make_sample(30)
    for method in ("random", "first", "fps"):
        result = Resample(100, method)(sample, np.random.default_rng(0))
        assert result["points"].shape == (100, 3)
        assert set(result["parts"].tolist()) == set(range(30)), method


def test_first_and_fps_resampling_are_deterministic() -> None:
    sample = make_sample(200)
    first = Resample(50, "first")(sample, np.random.default_rng(0))
    np.testing.assert_array_equal(first["parts"], np.arange(50))
    fps = Resample(50, "fps")
    a = fps(sample, np.random.default_rng(0))["parts"]
    b = fps(sample, np.random.default_rng(99))["parts"]
    np.testing.assert_array_equal(a, b)
    expected = farthest_point_sampling(torch.from_numpy(sample["points"]), 50).numpy()
    np.testing.assert_array_equal(a, expected)
    assert a[0] == 0


def test_fps_spreads_points_better_than_the_first_points() -> None:
    sample = make_sample(400)
    pts = sample["points"]

    def coverage(index: np.ndarray) -> float:  # worst distance from any point to the chosen set
        return float(np.linalg.norm(pts[:, None] - pts[index][None], axis=-1).min(axis=1).max())

    fps = Resample(32, "fps")(sample, np.random.default_rng(0))["parts"]
    assert coverage(fps) < coverage(np.arange(32))


def test_resample_rejects_bad_arguments_and_empty_clouds() -> None:
    with pytest.raises(ValueError, match="num_points"):
        Resample(0)
    with pytest.raises(ValueError, match="method"):
        Resample(10, "nearest")
    empty = {"points": np.zeros((0, 3), np.float32)}
    with pytest.raises(ValueError, match="empty"):
        Resample(10)(empty, np.random.default_rng(0))


def test_scale_translate_stays_in_pct_ranges_per_axis() -> None:
    sample = {"points": np.ones((5, 3), np.float32)}
    rng = np.random.default_rng(0)
    scaled = np.stack([ScaleTranslate()(sample, rng)["points"][0] for _ in range(500)])  # (500, 3)
    assert scaled.min() >= 2 / 3 - 0.2 - 1e-6 and scaled.max() <= 1.5 + 0.2 + 1e-6
    # anisotropic: the three axes get different factors
    assert np.abs(scaled[:, 0] - scaled[:, 1]).max() > 0.1
    iso = ScaleTranslate(shift=0.0, anisotropic=False)(sample, rng)["points"]
    assert np.allclose(iso, iso[0, 0])


def test_jitter_is_clipped() -> None:
    sample = {"points": np.zeros((1000, 3), np.float32)}
    out = Jitter(sigma=1.0, clip=0.05)(sample, np.random.default_rng(0))["points"]
    assert np.abs(out).max() <= 0.05 + 1e-7 and out.std() > 0.03


def test_point_dropout_keeps_count_and_duplicates_a_kept_point() -> None:
    sample = make_sample(200)
    out = PointDropout(0.8)(sample, np.random.default_rng(1))
    assert out["points"].shape == (200, 3)
    changed = out["parts"] != np.arange(200)
    assert changed.any()
    assert np.unique(out["parts"][changed]).size == 1  # every dropped point became the same kept one


def test_transforms_never_write_into_their_input() -> None:
    sample = make_sample(64)
    before = {k: v.copy() for k, v in sample.items()}
    pipeline = Compose([Resample(64), ScaleTranslate(), Jitter(), RotateUp(), RotateSO3(),
                        PointDropout(), Shuffle(), NormalizeUnitSphere()])  # fmt: skip
    pipeline(sample, np.random.default_rng(0))
    for key in sample:
        np.testing.assert_array_equal(sample[key], before[key])


@pytest.mark.parametrize("augment", AUGMENTATIONS)
def test_presets_serve_num_points_and_keep_labels(augment: str) -> None:
    sample = make_sample(120)
    train = build_transform(64, train=True, augment=augment)
    out = train(sample, np.random.default_rng(0))
    assert out["points"].shape == (64, 3) and out["points"].dtype == np.float32
    assert np.isfinite(out["points"]).all()
    if augment == "none":
        assert_labels_follow(sample, out)


def test_eval_pipeline_is_deterministic_and_fps_train_pipeline_shuffles() -> None:
    sample = make_sample(120)
    evaluate = build_transform(64, train=False, augment="so3")
    a = evaluate(sample, np.random.default_rng(0))
    b = evaluate(sample, np.random.default_rng(1))
    np.testing.assert_array_equal(a["points"], b["points"])
    train_fps = build_transform(64, train=True, augment="none", sampling="fps")
    fps_order = Resample(64, "fps")(sample, np.random.default_rng(0))["parts"]
    shuffled = train_fps(sample, np.random.default_rng(0))["parts"]
    assert set(shuffled) == set(fps_order) and not np.array_equal(shuffled, fps_order)


def test_build_transform_names_a_bad_choice() -> None:
    with pytest.raises(ValueError, match="augment must be one of"):
        build_transform(10, train=True, augment="flip")
    with pytest.raises(ValueError, match="sampling"):
        build_transform(10, train=True, sampling="grid")
