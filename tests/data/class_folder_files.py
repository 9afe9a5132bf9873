"""A tiny folder of "the user's own files" for the class-folder tests: meshes as ``.off`` and
point clouds as ``.ply``, written in their published formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pointea.io import write_points

CLASSES = ("box", "dome", "rod")  # sorted, as the data module orders them


def _box_off(rng: np.random.Generator) -> str:
    """A box mesh with random proportions and offset, quads as Princeton's .off files have."""
    size = rng.uniform(0.5, 2.0, 3)
    corner = rng.uniform(-5, 5, 3)
    cube = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]])
    vertices = corner + cube * size
    faces = ["4 0 1 2 3", "4 4 5 6 7", "4 0 1 5 4", "4 1 2 6 5", "4 2 3 7 6", "4 3 0 4 7"]
    return "OFF\n8 6 0\n" + "".join(f"{x:.5f} {y:.5f} {z:.5f}\n" for x, y, z in vertices) + "\n".join(faces) + "\n"


def _dome(rng: np.random.Generator, n: int) -> np.ndarray:
    """Points on an upper half sphere, in centimetres.  Shapes: returns (n, 3) float32"""
    v = rng.normal(size=(n, 3))
    v[:, 2] = np.abs(v[:, 2])
    return (v / np.linalg.norm(v, axis=1, keepdims=True) * 50 + rng.uniform(-100, 100, 3)).astype(np.float32)


def _rod(rng: np.random.Generator, n: int) -> np.ndarray:
    """Points along a thin cylinder.  Shapes: returns (n, 3) float32"""
    t = rng.uniform(0, 1, n)
    angle = rng.uniform(0, 2 * np.pi, n)
    return np.stack([np.cos(angle) * 0.05, np.sin(angle) * 0.05, t * 3], axis=1).astype(np.float32)


def write_class_folder(root: Path, per_class: int = 6, points: int = 300, seed: int = 0) -> list[Path]:
    """``root/<class>/<name>`` for the three classes: boxes as ``.off``, domes and rods as ``.ply``
    (one rod as an ``.xyz`` text file); returns the files written."""
    rng = np.random.default_rng(seed)
    written = []
    for name in CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            if name == "box":
                path = root / name / f"box_{i:02d}.off"
                path.write_text(_box_off(rng))
            elif name == "dome":
                path = write_points(root / name / f"dome_{i:02d}.ply", _dome(rng, points))
            elif i == 0:
                path = root / name / "rod_00.xyz"
                np.savetxt(path, _rod(rng, points), fmt="%.5f")
            else:
                path = write_points(root / name / f"rod_{i:02d}.ply", _rod(rng, points))
            written.append(path)
    (root / "box" / "notes.md").write_text("not a point file: ignored\n")
    return written
