"""Keeping the rows of a point file while it streams past, chunk by chunk.

A file is read in chunks so that a 100-million-point scan never has to fit in memory twice:

- :class:`KeepAll` keeps every row (no ``num_points``) and refuses, before memory runs out, a file
  with more than ``max_points`` rows.
- :class:`KeepRandom` keeps a uniform random subset of ``k`` rows in bounded memory: every row gets
  a random key from one seeded generator and the ``k`` smallest keys win. The keys are drawn in file
  order, so the subset depends on the seed and the file, not on the chunk size. Kept rows come out
  in file order.

Both end with :meth:`finish`, which, when the file had fewer than ``k`` rows, draws the missing
rows again with replacement (seeded) and says so in its result.

Shape legend: R rows in a chunk, C columns, K rows kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pointea.errors import DataError
from pointea.io.bounds import DEFAULT_MAX_POINTS, check_count

__all__ = ["KeptRows", "KeepAll", "KeepRandom", "row_keeper", "DEFAULT_MAX_POINTS"]


@dataclass(frozen=True)
class KeptRows:
    """The rows a keeper kept.

    Shapes:
        values: (K, C) float64; indices: (K,) int64, the file row of each kept row
    """

    values: np.ndarray
    indices: np.ndarray
    num_rows: int
    resampled: bool


class KeepAll:
    """Keep every row; a :class:`DataError` once more than ``max_points`` rows arrive."""

    def __init__(self, path: object, max_points: int = DEFAULT_MAX_POINTS) -> None:
        self.path = path
        self.max_points = max_points
        self.chunks: list[np.ndarray] = []
        self.num_rows = 0

    def expect(self, count: int, what: str = "points") -> None:
        """Refuse, before reading, a file whose header declares more than ``max_points`` rows."""
        check_count(
            self.path, what, count, self.max_points,
            "; pass num_points to keep a random subset while reading (or raise max_points)",
        )  # fmt: skip

    def add(self, rows: np.ndarray) -> None:
        """Take one chunk of rows, (R, C)."""
        self.num_rows += rows.shape[0]
        if self.num_rows > self.max_points:
            raise DataError(
                f"{self.path}: more than {self.max_points:,} points; pass num_points to keep a "
                f"random subset while reading (or raise max_points)"
            )
        self.chunks.append(rows)

    def finish(self) -> KeptRows:
        values = self.chunks[0] if len(self.chunks) == 1 else np.concatenate(self.chunks)
        return KeptRows(values, np.arange(self.num_rows), self.num_rows, resampled=False)


class KeepRandom:
    """Keep a seeded uniform random subset of ``k`` rows (all of them, topped up, when fewer)."""

    def __init__(self, k: int, seed: int = 0) -> None:
        self.k = k
        self.rng = np.random.default_rng(seed)
        self.values: np.ndarray | None = None  # (<= K, C)
        self.keys = np.empty(0)  # (<= K,)
        self.indices = np.empty(0, dtype=np.int64)  # (<= K,)
        self.num_rows = 0

    def expect(self, count: int, what: str = "points") -> None:
        """Streaming keeps ``k`` rows whatever the file declares: nothing to refuse."""

    def add(self, rows: np.ndarray) -> None:
        """Take one chunk of rows, (R, C)."""
        keys = self.rng.random(rows.shape[0])  # (R,), drawn in file order
        indices = np.arange(self.num_rows, self.num_rows + rows.shape[0])  # (R,)
        self.num_rows += rows.shape[0]
        if self.values is not None:
            rows = np.concatenate([self.values, rows])  # (K + R, C)
            keys = np.concatenate([self.keys, keys])
            indices = np.concatenate([self.indices, indices])
        if rows.shape[0] > self.k:
            best = np.argpartition(keys, self.k - 1)[: self.k]  # (K,)
            rows, keys, indices = rows[best], keys[best], indices[best]
        self.values, self.keys, self.indices = rows, keys, indices

    def finish(self) -> KeptRows:
        assert self.values is not None, "finish() before any rows"
        order = np.argsort(self.indices, kind="stable")  # back to file order
        values, indices = self.values[order], self.indices[order]
        missing = self.k - values.shape[0]
        if missing <= 0:
            return KeptRows(values, indices, self.num_rows, resampled=False)
        extra = self.rng.integers(0, values.shape[0], size=missing)  # (K - rows,), with replacement
        return KeptRows(
            np.concatenate([values, values[extra]]),
            np.concatenate([indices, indices[extra]]),
            self.num_rows,
            resampled=True,
        )


def row_keeper(
    path: object, num_points: int | None, seed: int, max_points: int = DEFAULT_MAX_POINTS
) -> KeepAll | KeepRandom:
    """:class:`KeepRandom` for ``num_points`` rows, or :class:`KeepAll` when it is ``None``."""
    if num_points is None:
        return KeepAll(path, max_points)
    if num_points < 1:
        raise DataError(f"{path}: num_points must be >= 1, got {num_points}")
    return KeepRandom(num_points, seed)
