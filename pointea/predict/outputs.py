"""What ``pointea-predict`` writes: the stdout table, ``predictions.csv``/``.json``, and per file
``<name>.parts.ply`` (coloured by part) and ``<name>.parts.npz`` for part segmentation.

Shape legend: N points, T top-k entries.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PART_COLOURS", "unique_name", "write_parts_ply", "write_parts_npz", "write_table", "write_csv", "write_json"]

#: Colour of a category's i-th part (cycled): tab10, 0-255.
PART_COLOURS = np.array(
    [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
     [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]],
    dtype=np.uint8,
)  # fmt: skip


def unique_name(path: Path, taken: set[str]) -> str:
    """The file's stem, made unique among ``taken`` (files of the same name in other folders)."""
    name, count = path.stem, 1
    while name in taken:
        count += 1
        name = f"{path.stem}-{count}"
    taken.add(name)
    return name


def write_parts_ply(path: Path, points: np.ndarray, parts: np.ndarray, category_parts: list[int]) -> None:
    """Binary PLY: float x, y, z, uchar red, green, blue (colour of the part within its category),
    int part (global part id). Shapes: points (N, 3); parts (N,)."""
    local = np.searchsorted(np.asarray(category_parts), parts)  # (N,) index within the category's parts
    vertex = np.empty(
        points.shape[0],
        dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1"), ("part", "<i4")],
    )
    vertex["x"], vertex["y"], vertex["z"] = points[:, 0], points[:, 1], points[:, 2]
    colours = PART_COLOURS[local % len(PART_COLOURS)]  # (N, 3)
    vertex["red"], vertex["green"], vertex["blue"] = colours[:, 0], colours[:, 1], colours[:, 2]
    vertex["part"] = parts
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment pointea-predict part segmentation\n"
        f"element vertex {points.shape[0]}\n"
        "property float x\nproperty float y\nproperty float z\n"
        "property uchar red\nproperty uchar green\nproperty uchar blue\nproperty int part\nend_header\n"
    )
    with open(path, "wb") as file:
        file.write(header.encode("ascii"))
        file.write(vertex.tobytes())


def write_parts_npz(path: Path, points: np.ndarray, parts: np.ndarray, category: str, category_parts: list[int]) -> None:
    """``points`` (N, 3) float32 as read, ``parts`` (N,) int64 global part ids, ``category`` and
    the category's ``part_ids``."""
    np.savez_compressed(
        path, points=points, parts=parts.astype(np.int64), category=np.array(category), part_ids=np.array(category_parts)
    )


def write_table(rows: list[list[str]], header: list[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def write_json(path: Path, content: dict[str, Any]) -> None:
    path.write_text(json.dumps(content, indent=2) + "\n")
