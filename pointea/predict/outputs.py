"""What ``pointea-predict`` writes: the stdout table, ``predictions.csv``/``.json``, and per file
``<name>.parts.npz`` for part segmentation (its ``<name>.parts.ply``, coloured by part, is written
by :func:`pointea.io.write_points`).

Shape legend: N points, T top-k entries.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["unique_name", "write_parts_npz", "write_table", "write_csv", "write_json"]

def unique_name(path: Path, taken: set[str]) -> str:
    """The file's stem, made unique among ``taken`` (files of the same name in other folders)."""
    name, count = path.stem, 1
    while name in taken:
        count += 1
        name = f"{path.stem}-{count}"
    taken.add(name)
    return name


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
