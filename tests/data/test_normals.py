"""Normals from every source: each served normal must belong to its own point.

The checks are geometric, so they would catch normals shuffled against their points, a wrong
pose transform or a swapped column: on real ModelNet40 clouds the file's normals agree with PCA
normals of the served points; in PCPNet- and file-layout folders of spheres the normal of every
point is the point itself; the synthetic surfaces' analytic normals agree with dense PCA.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from pointea.bench.normals_pca import pca_normals
from pointea.data.normals import NormalsDataModule, checked_normals, find_normals_layout, read_normal_clouds
from pointea.data.synthetic.normals import NORMAL_CLASS_NAMES, generate_normals
from pointea.errors import DataError
from pointea.io import PointCloud, write_points
from tests.data.conftest import shared_sample


def _median_angle(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Sign-free median angle in degrees.  Shapes: (..., 3) each."""
    cos = np.abs((estimate * truth).sum(-1)) / np.linalg.norm(estimate, axis=-1) / np.linalg.norm(truth, axis=-1)
    return float(np.degrees(np.median(np.arccos(np.clip(cos, 0, 1)))))


def _sphere(rng: np.random.Generator, count: int) -> np.ndarray:
    """Points on the unit sphere; each is its own outward normal.  Shapes: (count, 3) float64."""
    points = rng.standard_normal((count, 3))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def test_real_subset_serves_its_normals_paired_with_their_points():
    root = shared_sample("modelnet40_real_subset")
    data = NormalsDataModule(str(root), num_points=512, batch_size=8, augment="none")
    data.setup("fit")
    assert (len(data.train_set), len(data.test_set)) == (848, 178)
    batch = next(iter(data.test_dataloader()))
    points, normals = batch["points"], batch["normals"]  # (8, 512, 3)
    assert normals.shape == points.shape == (8, 512, 3)
    assert torch.allclose(normals.norm(dim=-1), torch.ones(8, 512), atol=1e-5)
    with h5py.File(root / "ply_data_test0.h5") as handle:  # the evaluation transform keeps the first points
        stored = handle["normal"][:8, :512]  # rounded to 3 decimals in the file, so renormalised when read
        assert np.allclose(normals.numpy(), stored / np.linalg.norm(stored, axis=-1, keepdims=True), atol=1e-6)
        assert np.array_equal(points.numpy(), handle["data"][:8, :512])
    # the file's normals describe the served points' surface: PCA agrees on most points
    medians = [_median_angle(pca_normals(cloud, 10), truth) for cloud, truth in zip(points.numpy(), normals.numpy())]
    assert np.median(medians) < 15, medians
    shuffled = normals.numpy()[:, np.random.default_rng(0).permutation(512)]
    assert _median_angle(pca_normals(points[0].numpy(), 10), shuffled[0]) > 30  # the check can fail


def test_normal_resampled_pairs_each_point_with_its_file_row(tmp_path: Path):
    sample = shared_sample("modelnet40_normal_resampled_sample")
    clouds = read_normal_clouds(sample, "test", "normal_resampled", cache_root=str(tmp_path))
    release = sample / "modelnet40_normal_resampled"
    first = (release / "modelnet40_test.txt").read_text().split()[0]
    rows = np.loadtxt(release / first.rsplit("_", 1)[0] / f"{first}.txt", delimiter=",", dtype=np.float32)
    by_point = {tuple(row[:3]): row[3:] for row in rows}
    index = [i for i, cloud in enumerate(clouds.points) if tuple(cloud[0]) in by_point]
    assert index, "the first listed test shape is among the converted clouds"
    cloud, normals = clouds.points[index[0]], clouds.normals[index[0]]
    expected = np.stack([by_point[tuple(p)] for p in cloud])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(normals, expected, atol=1e-6)


def _pcpnet(root: Path, shapes: dict[str, int], rng: np.random.Generator) -> Path:
    """PCPNet's layout: pclouds/<shape>.xyz + .normals (spheres), training and test lists."""
    folder = root / "pclouds"
    folder.mkdir(parents=True)
    for name, count in shapes.items():
        points = _sphere(rng, count) * 2.0
        np.savetxt(folder / f"{name}.xyz", points, fmt="%.6f")
        np.savetxt(folder / f"{name}.normals", points / 2.0 * rng.uniform(0.5, 2.0, (count, 1)), fmt="%.6f")
    names = list(shapes)
    (folder / "trainingset_whitenoise.txt").write_text("\n".join(names[:-1]) + "\n")
    (folder / "testset_all.txt").write_text(names[-1] + "\n")
    return root


def test_pcpnet_layout_pairs_points_and_normals(tmp_path: Path):
    root = _pcpnet(tmp_path, {"sphere_a": 400, "sphere_b": 300, "sphere_c": 150}, np.random.default_rng(1))
    assert find_normals_layout(root) == "pcpnet"
    data = NormalsDataModule(str(root), num_points=64, batch_size=2, file_points=200, augment="none")
    data.setup("fit")
    assert len(data.train_set) == 2 and len(data.test_set) == 1
    for dataset in (data.train_set, data.test_set):
        for item in dataset:
            points, normals = item["points"].double(), item["normals"].double()
            assert torch.allclose(normals.norm(dim=-1), torch.ones(64, dtype=torch.float64), atol=1e-6)  # renormalised
            assert torch.allclose(normals, points / 2.0, atol=1e-5)


def test_pcpnet_bad_files_are_one_line_errors(tmp_path: Path):
    root = _pcpnet(tmp_path, {"a": 50, "b": 50}, np.random.default_rng(2))
    folder = root / "pclouds"
    with pytest.raises(DataError, match="no such list; the lists here are"):
        read_normal_clouds(root, "test", test_list="testset_missing.txt")
    np.savetxt(folder / "b.normals", np.ones((49, 3)))
    with pytest.raises(DataError, match="49 normals for the 50 points"):
        read_normal_clouds(root, "test")
    bad = np.ones((50, 3))
    bad[7] = 0.0
    np.savetxt(folder / "b.normals", bad)
    with pytest.raises(DataError, match=r"b.normals: 1 normal\(s\) have zero length"):
        read_normal_clouds(root, "test", file_points=50)
    bad[7] = np.nan
    np.savetxt(folder / "b.normals", bad)
    with pytest.raises(DataError, match="NaN/Inf"):
        read_normal_clouds(root, "test", file_points=50)


def test_class_folder_files_carry_their_normals(tmp_path: Path):
    rng = np.random.default_rng(3)
    for split in ("train", "test"):
        for name in ("ball", "globe"):
            folder = tmp_path / split / name
            folder.mkdir(parents=True)
            for i in range(2):
                points = _sphere(rng, 300).astype(np.float32)
                write_points(folder / f"{name}{i}.ply", PointCloud(points=points * 3, normals=points))
    clouds = read_normal_clouds(tmp_path, "train", file_points=128)
    assert clouds.points.shape == (4, 128, 3) and clouds.class_names == ("ball", "globe")
    assert np.allclose(clouds.normals, clouds.points / 3, atol=1e-5)
    single = read_normal_clouds(tmp_path / "test" / "ball" / "ball0.ply", "test", file_points=64)
    assert single.points.shape == (1, 64, 3) and single.labels is None
    with pytest.raises(DataError, match="a single file is a test split only"):
        read_normal_clouds(tmp_path / "test" / "ball" / "ball0.ply", "train")
    np.savetxt(tmp_path / "train" / "ball" / "bare.xyz", _sphere(rng, 50))
    with pytest.raises(DataError, match=r"bare.xyz: has no normals"):
        read_normal_clouds(tmp_path, "train", file_points=32)


def test_checked_normals_renormalises_and_refuses():
    normals = np.array([[0.0, 0.0, 2.0], [0.6, 0.8, 0.0]], dtype=np.float32)
    assert np.allclose(checked_normals("x", normals), [[0, 0, 1], [0.6, 0.8, 0]])
    with pytest.raises(DataError, match=r"x: 1 normal\(s\) have zero length \(first at row 1\)"):
        checked_normals("x", np.array([[0, 0, 1], [0, 0, 0]], dtype=np.float32))
    with pytest.raises(DataError, match="expected \\(..., 3\\) floats"):
        checked_normals("x", np.zeros((4, 2), dtype=np.float32))


def test_synthetic_normals_are_the_surfaces_own():
    """Dense PCA on the posed surfaces agrees with the analytic normals (a wrong pose rule, such as
    scaling normals by D instead of D^-1, bends them by many degrees)."""
    points, normals, labels = generate_normals(2, np.random.default_rng(4), num_points=20000)
    assert points.shape == normals.shape == (10, 20000, 3)
    assert sorted(set(labels.tolist())) == list(range(len(NORMAL_CLASS_NAMES)))
    assert np.allclose(np.linalg.norm(normals, axis=-1), 1.0, atol=1e-5)
    assert np.linalg.norm(points, axis=-1).max() <= 1.0 + 1e-5
    for cloud, truth in zip(points, normals):
        assert _median_angle(pca_normals(cloud, 30), truth) < 2.0
        wrong = truth * np.array([1.0, 1.6, 0.7], dtype=np.float32)  # an anisotropic slip
        assert _median_angle(pca_normals(cloud, 30), wrong) > 2.0


def test_synthetic_data_module_is_deterministic():
    first = NormalsDataModule(layout="synthetic", num_points=256, synthetic_per_class=3, seed=5)
    second = NormalsDataModule(layout="synthetic", num_points=256, synthetic_per_class=3, seed=5)
    first.setup("fit")
    second.setup("fit")
    assert len(first.train_set) == 15
    assert np.array_equal(first.test_set.points, second.test_set.points)
    assert not np.array_equal(first.train_set.points, first.test_set.points)


def test_missing_sources_and_layouts_are_one_line_errors(tmp_path: Path):
    with pytest.raises(DataError, match="layout must be one of"):
        NormalsDataModule(str(tmp_path), layout="ply")
    with pytest.raises(DataError, match="nothing there"):
        read_normal_clouds(tmp_path / "absent", "test")


def _plane_sample(rng: np.random.Generator, count: int = 200) -> dict[str, np.ndarray]:
    """Points of the tilted plane x + 2y + 3z = 0.3, each with the plane's unit normal."""
    normal = np.array([1.0, 2.0, 3.0]) / np.sqrt(14.0)
    a, b = np.linalg.svd(normal[None])[2][1:]  # two unit vectors in the plane
    uv = rng.uniform(-0.5, 0.5, size=(count, 2))
    points = 0.3 / np.sqrt(14.0) * normal + uv[:, :1] * a + uv[:, 1:] * b
    return {"points": points.astype(np.float32), "normals": np.tile(normal, (count, 1)).astype(np.float32)}


@pytest.mark.parametrize("augment", ["pct", "pct_jitter", "pointnet2", "rotate_up", "so3", "none"])
def test_every_augmentation_keeps_normals_perpendicular_to_the_surface(augment):
    """A plane stays a plane under rotations, scalings and shifts; its normal after the transform
    must stay perpendicular to it. Leaving normals alone, or scaling them by D instead of D^-1,
    fails for anisotropic scales and rotations."""
    from pointea.data.transforms import build_transform

    transform = build_transform(128, train=True, augment=augment)
    for seed in range(5):
        out = transform(_plane_sample(np.random.default_rng(seed)), np.random.default_rng(100 + seed))
        points, normals = out["points"].astype(np.float64), out["normals"].astype(np.float64)
        assert np.allclose(np.linalg.norm(normals, axis=1), 1.0, atol=1e-5)
        plane = np.linalg.svd(points - points.mean(0))[2][2]  # the fitted plane's normal
        jittered = augment in ("pct_jitter", "pointnet2", "rotate_up", "so3")  # points moved off the plane a little
        assert np.abs(normals @ plane).min() > np.cos(np.radians(2.0 if jittered else 0.05)), augment


def test_a_wrong_normal_rule_is_caught_by_the_plane_check():
    """The check above can fail: the same plane scaled anisotropically with normals scaled by D."""
    sample = _plane_sample(np.random.default_rng(0))
    scale = np.array([1.5, 0.7, 1.2])
    points = sample["points"] * scale
    wrong = sample["normals"] * scale
    wrong /= np.linalg.norm(wrong, axis=1, keepdims=True)
    plane = np.linalg.svd(points - points.mean(0))[2][2]
    assert np.abs(wrong @ plane).max() < np.cos(np.radians(5))
