"""pointea.io on untouched real files: ModelNet40 ``normal_resampled`` text and ShapeNetPart v0
``.pts`` + ``.seg`` (``../shared/data``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pointea.data.shapenetpart import ShapeNetPart
from pointea.io import read_points


def _listed(root: Path) -> list[Path]:
    names = []
    for split in ("train", "test"):
        names += (root / f"modelnet40_{split}.txt").read_text().split()
    return [root / name.rsplit("_", 1)[0] / f"{name}.txt" for name in names]


def test_every_normal_resampled_file_reads_whole(normal_resampled: Path) -> None:
    files = _listed(normal_resampled)
    assert len(files) == 24
    for path in files:
        cloud = read_points(path)
        assert cloud.columns == ("x", "y", "z", "nx", "ny", "nz")
        assert cloud.points.shape == (10_000, 3) and cloud.points.dtype == np.float32
        assert cloud.num_source_points == 10_000 and not cloud.resampled
        assert (
            np.linalg.norm(cloud.points, axis=1).max() < 1.002
        )  # unit sphere, to 4 printed digits
        # unit normals, except the release's (1, 1, 1) placeholder on a few points of some files
        # (bathtub_0001: 6, bathtub_0004: 14), kept as published
        placeholder = (cloud.normals == 1).all(axis=1)
        assert placeholder.sum() < 20
        assert np.abs(np.linalg.norm(cloud.normals[~placeholder], axis=1) - 1).max() < 2e-3
        assert cloud.labels is None and cloud.colours is None
    # the fast parser agrees with NumPy's reference text reader, value for value
    reference = np.loadtxt(files[0], delimiter=",", dtype=np.float32)  # (10000, 6)
    cloud = read_points(files[0])
    assert np.array_equal(np.hstack([cloud.points, cloud.normals]), reference)


def test_normal_resampled_subset_is_seeded_and_chunk_independent(normal_resampled: Path) -> None:
    path = normal_resampled / "airplane" / "airplane_0001.txt"
    full = read_points(path)
    a = read_points(path, 1024, seed=3)
    b = read_points(path, 1024, seed=3, chunk_bytes=8192)  # ~70 chunks instead of one
    c = read_points(path, 1024, seed=4)
    assert a.points.shape == (1024, 3) and np.array_equal(a.points, b.points)
    assert np.array_equal(a.normals, b.normals)
    assert not np.array_equal(a.points, c.points)
    # a subset of the file's own rows, in file order, normals still with their points
    rows = {tuple(row) for row in np.hstack([full.points, full.normals])}
    assert all(tuple(row) in rows for row in np.hstack([a.points, a.normals]))
    assert len({tuple(p) for p in a.points}) == 1024  # no point twice


def test_shapenet_v0_pts_with_seg_labels(shapenet_v0: Path) -> None:
    synsets = dict(
        line.split("\t")
        for line in (shapenet_v0 / "synsetoffset2category.txt").read_text().splitlines()
    )
    assert len(synsets) == 16
    for category, synset in synsets.items():
        (points_file,) = sorted((shapenet_v0 / synset / "points").glob("*.pts"))
        seg = shapenet_v0 / synset / "points_label" / f"{points_file.stem}.seg"
        parts = len(ShapeNetPart.PARTS_PER_CATEGORY[category])
        cloud = read_points(points_file, labels_path=seg, label_range=(1, parts))
        lines = len(points_file.read_text().split("\n")) - 1
        assert cloud.points.shape == (lines, 3) and cloud.labels.shape == (lines,)
        assert cloud.columns == ("x", "y", "z", "label")
        assert cloud.labels.min() >= 1 and cloud.labels.max() <= parts  # local ids 1..k
        assert np.abs(cloud.points).max() < 1.0  # ShapeNetPart shapes are normalised
        # labels follow their points through subsampling
        sub = read_points(points_file, 512, seed=1, labels_path=seg)
        lookup = {tuple(p): l for p, l in zip(cloud.points, cloud.labels)}
        assert all(lookup[tuple(p)] == l for p, l in zip(sub.points, sub.labels))


def test_seg_labels_outside_the_category_name_the_line(shapenet_v0: Path, tmp_path: Path) -> None:
    from pointea.errors import DataError

    points_file = next((shapenet_v0 / "03642806" / "points").glob("*.pts"))  # Laptop: 2 parts
    seg = (
        (shapenet_v0 / "03642806" / "points_label" / f"{points_file.stem}.seg")
        .read_text()
        .split("\n")
    )
    seg[6] = "3"
    bad = tmp_path / "bad.seg"
    bad.write_text("\n".join(seg))
    with pytest.raises(DataError, match=r"bad\.seg: line 7: label 3 is outside 1\.\.2"):
        read_points(points_file, labels_path=bad, label_range=(1, 2))
