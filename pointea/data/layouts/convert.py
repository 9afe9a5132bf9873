"""Reading many shape files in parallel and writing them as HDF5 archive files, chunk by chunk.

:func:`read_all` maps a picklable reader over the files in worker processes (forked, so they
start at once, each running torch on one thread like DataLoader workers) and yields results in
list order under a progress bar; small jobs run in-process. :class:`SplitWriter` writes
``ply_data_{split}{i}.h5`` files of at most 2048 shapes as results arrive, so memory stays at one
chunk however large the release is, plus the ``ply_data_{split}_{i}_id2file.json`` list of each
file's source shapes (as the ModelNet40 archive ships them).

Shape legend: M shapes in a chunk, N points per shape.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np

from pointea.data.archive_writer import DEFAULT_SHAPES_PER_FILE
from pointea.data.h5 import write_h5

__all__ = ["default_workers", "read_all", "SplitWriter"]

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Below this many files, worker start-up costs more than it saves.
_PARALLEL_FROM = 64


def default_workers() -> int:
    """Worker processes for a conversion: the CPUs this process may use, at most 8."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, 8))


def read_all(
    reader: Callable[[Item], Result],
    items: Sequence[Item],
    workers: int | None = None,
    description: str = "converting",
) -> Iterator[Result]:
    """``reader(item)`` for every item, in order, with a progress bar on stderr.

    Args:
        reader: a module-level function (picklable), e.g. ``functools.partial`` of one.
        items: what to read.
        workers: processes; ``None`` uses :func:`default_workers`, ``0`` or ``1`` reads in-process.
        description: the progress bar's label.
    """
    from tqdm import tqdm  # Lightning's dependency; imported here to keep `import pointea` light

    workers = default_workers() if workers is None else workers
    bar = tqdm(total=len(items), desc=description, unit="file", file=sys.stderr,
               disable=None if len(items) >= _PARALLEL_FROM else True)  # fmt: skip
    with bar:
        if workers <= 1 or len(items) < _PARALLEL_FROM:
            for item in items:
                yield reader(item)
                bar.update()
            return
        chunksize = max(1, min(32, len(items) // (workers * 8)))
        # fork: workers start at once with what is already imported (spawn re-imports torch,
        # seconds per worker); like DataLoader workers they run torch on one thread each.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_one_thread)
        try:
            for result in pool.map(reader, items, chunksize=chunksize):
                yield result
                bar.update()
        finally:  # a bad file (or Ctrl-C) stops the run at once, not after the remaining files
            pool.shutdown(wait=True, cancel_futures=True)


def _one_thread() -> None:
    """Worker start-up: one intra-op thread, as DataLoader workers do (no oversubscription)."""
    import torch

    torch.set_num_threads(1)


class SplitWriter:
    """Writes one split's shapes as ``ply_data_{split}{i}.h5`` files of ``shapes_per_file``.

    Args:
        folder: the archive folder being built.
        split: the split name in file names (``train``, ``val``, ``test``).
        shapes_per_file: shapes per file (2048, as published).

    Use :meth:`add` for every shape, then :meth:`close`; :attr:`names` lists the files written.
    """

    def __init__(
        self, folder: Path, split: str, shapes_per_file: int = DEFAULT_SHAPES_PER_FILE
    ) -> None:
        self.folder = folder
        self.split = split
        self.shapes_per_file = shapes_per_file
        self.names: list[str] = []
        self.count = 0
        self._rows: dict[str, list[np.ndarray]] = {}
        self._ids: list[str] = []

    def add(self, source: str, arrays: dict[str, np.ndarray]) -> None:
        """One shape: ``source`` names it in the id list; ``arrays`` are its per-shape rows."""
        if self._rows and set(arrays) != set(self._rows):
            raise ValueError(f"{source}: arrays {sorted(arrays)} differ from {sorted(self._rows)}")
        for key, value in arrays.items():
            self._rows.setdefault(key, []).append(value)
        self._ids.append(source)
        self.count += 1
        if len(self._ids) == self.shapes_per_file:
            self._flush()

    def close(self) -> list[str]:
        """Write the last partial file; return the names of all files written."""
        if self._ids:
            self._flush()
        return self.names

    def _flush(self) -> None:
        index = len(self.names)
        name = f"ply_data_{self.split}{index}.h5"
        write_h5(self.folder / name, {key: np.stack(rows) for key, rows in self._rows.items()})
        ids_file = self.folder / f"ply_data_{self.split}_{index}_id2file.json"
        ids_file.write_text(json.dumps(self._ids))
        self.names.append(name)
        self._rows, self._ids = {}, []
