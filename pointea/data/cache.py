"""Releases in other layouts (text files, meshes), converted once into the HDF5 layout and reused.

Which layout a root holds: the data modules' ``layout`` option is ``"auto"`` (the first layout
found, HDF5 archive first so an existing archive is never shadowed) or a named one
(:func:`find_layout`); each data set module lists its layouts and their finders.

The conversion reads many shape files in parallel (:func:`read_all`: a picklable reader mapped over
the files in forked worker processes, each running torch on one thread like DataLoader workers,
results in list order under a progress bar; small jobs run in-process) and writes them chunk by
chunk with :class:`~pointea.data.storage.SplitWriter`, so memory stays at one chunk however large
the release is. Listed shapes whose files are missing are an error, or, with ``missing="skip"``,
a deliberate subset counted once in the log (:func:`present_entries`).

The cache is a folder in the HDF5 archive layout the loaders already read, plus ``manifest.json``:
every source file the conversion read (relative path, size, mtime in ns) and the conversion's
parameters. A cache is reused only when its manifest equals the current one, so editing, adding or
removing a listed file, or asking for more points, converts again. Stat-ing 12,311 files takes
well under a second; hashing 7 GB of text would not.

Atomic: the new cache is built in a temporary sibling folder, the manifest is written last, and
the folder is renamed into place (an older cache is moved aside first and then deleted). A crash
or Ctrl-C leaves at most a ``.<name>-*`` temporary folder, never a half-written cache.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

from pointea.data.arguments import check_choice
from pointea.errors import DataError

__all__ = [
    "CACHE_FOLDER",
    "MANIFEST",
    "MISSING_POLICIES",
    "MissingPolicy",
    "cache_folder",
    "cached_points",
    "default_workers",
    "ensure_cache",
    "find_layout",
    "layout_not_found",
    "present_entries",
    "read_all",
    "source_manifest",
    "split_missing",
]

log = logging.getLogger(__name__)

#: Sub-folder of the data root that holds the converted layouts.
CACHE_FOLDER = "pointea_cache"
MANIFEST = "manifest.json"
#: Bump when the converted content changes for the same sources and parameters.
FORMAT_VERSION = 1


def source_manifest(
    source: Path, files: Sequence[Path], parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """What a cache was built from: ``files`` (relative to ``source``) with size and mtime."""
    entries = []
    for path in files:
        try:
            stat = path.stat()
        except OSError as exc:
            raise DataError(f"{path}: cannot read this file ({exc})") from exc
        entries.append([path.relative_to(source).as_posix(), stat.st_size, stat.st_mtime_ns])
    # No absolute path: a data root moved with its pointea_cache/ keeps its cache.
    return {"format": FORMAT_VERSION, "parameters": dict(parameters), "files": entries}


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def ensure_cache(
    folder: Path, manifest: Mapping[str, Any], build: Callable[[Path], None], what: str
) -> Path:
    """The cache ``folder`` built from ``manifest``: reused when current, else built by ``build``.

    Args:
        folder: where the cache lives (e.g. ``root/pointea_cache/modelnet40_normal_resampled_2048``).
        manifest: from :func:`source_manifest`.
        build: writes the converted layout into the (temporary) folder it is given.
        what: the source, for the log line.

    Raises:
        DataError: the cache location cannot be written (pass another ``cache_root``), or
            ``build`` raised it for a bad source file.
    """
    if _read_manifest(folder) == json.loads(json.dumps(manifest)):
        return folder
    reason = "source changed" if (folder / MANIFEST).is_file() else "first use"
    log.info(
        "converting %s to %s (%s; once, reused while the source is unchanged)", what, folder, reason
    )
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    except OSError as exc:
        raise DataError(
            f"{folder.parent}: cannot write the converted cache here ({exc}); pass cache_root "
            "(--data.init_args.cache_root DIR) to put it elsewhere"
        ) from exc
    staging.chmod(0o755)  # mkdtemp makes it private; the cache is an ordinary data folder
    old = None
    try:
        build(staging)
        (staging / MANIFEST).write_text(json.dumps(manifest))
        if folder.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}-old-", dir=folder.parent))
            folder.rename(old / folder.name)
        staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return folder


def cache_folder(source: Path, cache_root: str | Path | None, name: str) -> Path:
    """Where the conversion ``name`` of the release folder ``source`` lives:
    ``<cache_root>/pointea_cache/<name>``, beside the release when ``cache_root`` is ``None``."""
    root = Path(cache_root).expanduser() if cache_root is not None else source.parent
    return root / CACHE_FOLDER / name


def cached_points(num_points: int) -> int:
    """Points per shape in a conversion: 2048 as in the HDF5 archives, more when asked for."""
    return max(2048, num_points)


def find_layout(
    root: str | Path, layout: str, finders: Mapping[str, Callable], dataset: str
) -> str | None:
    """The first layout of ``finders`` found under ``root`` (``layout`` itself unless ``"auto"``).

    Args:
        finders: layout name -> ``find(root)``, which returns ``None`` when the layout is absent;
            ``"auto"`` tries them in this order.
        dataset: name in messages.

    Raises:
        DataError: ``layout`` is neither ``"auto"`` nor one of ``finders``.
    """
    check_choice(f"{dataset}: layout", layout, ("auto", *finders), DataError)
    names = finders if layout == "auto" else (layout,)
    return next((name for name in names if finders[name](root) is not None), None)


def layout_not_found(
    dataset: str,
    root: str | Path,
    layout: str,
    expected: Mapping[str, str],
    locate: Callable[[str | Path], Path],
) -> DataError:
    """The error for a root without the layout asked for (the HDF5 message explains downloads).

    Args:
        expected: layout name -> what its folder holds, for every layout but ``"hdf5"``.
        locate: the HDF5 archive's ``locate``, whose error says how to get the archive.
    """
    if layout in ("auto", "hdf5"):
        try:
            locate(root)
        except DataError as exc:
            if layout == "hdf5":
                return exc
            others = "; ".join(f"layout {name}: {text}" for name, text in expected.items())
            return DataError(f"{exc} Also read from the same root: {others}.")
    return DataError(
        f"{dataset} layout {layout!r} not found under {root}: expected {expected[layout]}"
    )


MissingPolicy = Literal["error", "skip"]
MISSING_POLICIES: tuple[str, ...] = get_args(MissingPolicy)

Entry = TypeVar("Entry")
_warned: set[str] = set()


def split_missing(
    list_file: Path, entries: Sequence[Entry], paths: Sequence[Sequence[Path]]
) -> tuple[list[Entry], str | None]:
    """The entries whose files all exist, and a one-line summary of the missing ones (or None).

    Args:
        list_file: the list the entries come from (named in the summary).
        entries: one per listed shape.
        paths: the files each entry needs (e.g. a ``.pts`` and its ``.seg``).
    """
    kept, absent_count, first_absent = [], 0, None
    for entry, needed in zip(entries, paths, strict=True):
        absent = next((path for path in needed if not path.is_file()), None)
        if absent is None:
            kept.append(entry)
            continue
        absent_count += 1
        first_absent = first_absent or absent
    if absent_count == 0:
        return kept, None
    summary = (
        f"{list_file}: {absent_count} of the {len(entries)} listed shapes are missing "
        f"(first: {first_absent})"
    )
    return kept, summary


def present_entries(
    list_file: Path,
    entries: Sequence[Entry],
    paths: Sequence[Sequence[Path]],
    missing: MissingPolicy = "error",
) -> list[Entry]:
    """The entries whose files all exist, in list order.

    Args:
        list_file: the list the entries come from (named in messages).
        entries: one per listed shape.
        paths: the files each entry needs (e.g. a ``.pts`` and its ``.seg``).
        missing: ``"error"`` raises when any file is missing; ``"skip"`` drops those entries and
            logs one line with the count (a split may then be empty: the HDF5 loaders refuse to
            load an empty split, so only the splits with shapes can be used).

    Raises:
        DataError: ``missing="error"`` and files are missing (count and first missing file), or
            an unknown policy.
    """
    check_choice("missing", missing, MISSING_POLICIES, DataError)
    kept, summary = split_missing(list_file, entries, paths)
    if summary is None:
        return kept
    if missing == "error":
        raise DataError(
            f"{summary}; the copy is incomplete: fetch it again, or pass missing='skip' "
            f"(`--missing skip` for verify) to use the {len(kept)} present"
        )
    if summary in _warned:  # the data modules resolve the layout at prepare_data and setup
        return kept
    _warned.add(summary)
    if not kept:
        log.warning("%s: none is present, the split is empty (missing='skip')", summary)
    else:
        log.warning("%s; using the %d present (missing='skip')", summary, len(kept))
    return kept


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
