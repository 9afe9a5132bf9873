"""Listed shapes that are missing from a folder: one line with the count and the first missing.

The text releases describe their splits with lists (ModelNet40's ``modelnet40_train.txt``,
ShapeNetPart's ``shuffled_train_file_list.json``). A copy that lacks some listed files is either
incomplete (an error by default) or a deliberate subset (``missing="skip"``: the shapes present
are used and the missing ones are counted once in the log).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeVar, get_args

from pointea.errors import DataError

__all__ = ["MissingPolicy", "MISSING_POLICIES", "present_entries", "split_missing"]

MissingPolicy = Literal["error", "skip"]
MISSING_POLICIES: tuple[str, ...] = get_args(MissingPolicy)

log = logging.getLogger(__name__)
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
    if missing not in MISSING_POLICIES:
        raise DataError(f"missing must be one of {', '.join(MISSING_POLICIES)}, got {missing!r}")
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
