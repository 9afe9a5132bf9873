"""The embedded default data: procedural point clouds written in the two published layouts.

``write_synthetic_modelnet40`` writes 12 classes of surfaces (sphere, box, cylinder, cone, torus,
pyramid, capsule, bowl, octahedron, helix, cross, hourglass); ``write_synthetic_shapenetpart``
writes 5 part-labelled object categories (Airplane, Lamp, Mug, Rocket, Table) in the standard
16-category / 50-part label space. Both are deterministic from a seed and take a second or two.

Each split draws from its own child of ``SeedSequence(seed)``, so changing the test size does not
change the training shapes. A ``synthetic.json`` beside the ``.h5`` files records the generator
settings (the real archives also carry extra json files; readers ignore it). They are written
through the data set modules' own archive writers, so the loaders read synthetic and real data by
the same code path.

The shapes: :mod:`~pointea.data.synthetic.classification`, :mod:`~pointea.data.synthetic.parts`,
both built from :mod:`~pointea.data.synthetic.geometry`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pointea.data.modelnet40 import ModelNet40, write_modelnet40_archive
from pointea.data.shapenetpart import ShapeNetPart, write_shapenetpart_archive
from pointea.data.synthetic.classification import CLASS_NAMES, generate_classification
from pointea.data.synthetic.parts import PART_CATEGORIES, generate_parts

__all__ = [
    "CLASS_NAMES",
    "PART_CATEGORIES",
    "generate_classification",
    "generate_parts",
    "write_synthetic_modelnet40",
    "write_synthetic_shapenetpart",
]


def _split_generators(seed: int, count: int) -> list[np.random.Generator]:
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(count)]


def write_synthetic_modelnet40(
    root: str | Path,
    seed: int = 0,
    train_per_class: int = 64,
    test_per_class: int = 16,
    num_points: int = 2048,
) -> Path:
    """Write ``root/modelnet40_ply_hdf5_2048/`` with the 12-class synthetic set; return that folder.

    Defaults: 768 training and 192 test shapes of 2048 points.
    """
    if min(train_per_class, test_per_class) < 1:
        raise ValueError("synthetic sizes must be >= 1 shape per class and split")
    train_rng, test_rng = _split_generators(seed, 2)
    settings = {
        "generator": "pointea.data.synthetic", "seed": seed, "num_points": num_points,
        "train_per_class": train_per_class, "test_per_class": test_per_class,
        "classes": list(CLASS_NAMES),
    }  # fmt: skip
    return write_modelnet40_archive(
        Path(root) / ModelNet40.ARCHIVE_DIR,
        {
            "train": generate_classification(train_per_class, train_rng, num_points),
            "test": generate_classification(test_per_class, test_rng, num_points),
        },
        CLASS_NAMES,
        extra_files={"synthetic.json": json.dumps(settings, indent=2) + "\n"},
    )


def write_synthetic_shapenetpart(
    root: str | Path,
    seed: int = 0,
    train_per_category: int = 100,
    val_per_category: int = 20,
    test_per_category: int = 20,
    num_points: int = 2048,
) -> Path:
    """Write ``root/shapenet_part_seg_hdf5_data/`` with the 5-category synthetic set; return it.

    Defaults: 500 training, 100 validation and 100 test shapes of 2048 points.
    """
    sizes = {"train": train_per_category, "val": val_per_category, "test": test_per_category}
    if min(sizes.values()) < 1:
        raise ValueError("synthetic sizes must be >= 1 shape per category and split")
    generators = _split_generators(seed, len(sizes))
    settings = {
        "generator": "pointea.data.synthetic", "seed": seed, "num_points": num_points,
        **{f"{split}_per_category": size for split, size in sizes.items()},
        "categories": list(PART_CATEGORIES),
    }  # fmt: skip
    return write_shapenetpart_archive(
        Path(root) / ShapeNetPart.ARCHIVE_DIRS[0],
        {
            split: generate_parts(size, rng, num_points)
            for (split, size), rng in zip(sizes.items(), generators)
        },
        extra_files={"synthetic.json": json.dumps(settings, indent=2) + "\n"},
    )
