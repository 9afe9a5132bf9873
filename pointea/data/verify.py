"""``pointea-data verify``: check that a folder holds complete, well-formed data sets; report them.

Every data set module registers its layouts' verifiers (``VERIFIERS``: layout name -> find, verify).
They run the loaders' own per-file checks (keys, shapes, dtypes, label and part ranges, part ids
within their category, NaN/Inf, empty clouds) on every listed file of every split, with the readers
of the text and mesh releases in worker processes for large releases, plus the optional ``normal``
dataset and the ``*_id2file.json`` shape lists where present. Each problem becomes one report line
naming the file (and the line, for text); the report is not stopped by the first bad file. Listed
files that are missing are one line (count and the first); ``missing="skip"`` turns them into a
note, for deliberate subsets such as the samples in ``../shared/data``.

Checksums: no SHA-256 digests of the official archive files are recorded (no trustworthy source
was available), so the report lists each file's digest for pinning and relies on the internal
consistency checks.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pointea.data.cache import read_all, split_missing
from pointea.errors import DataError

__all__ = [
    "Verifier",
    "VerifyReport",
    "check_split",
    "guarded",
    "id_list_length",
    "known_layouts",
    "present_listed",
    "read_checked",
    "sha256",
    "verify_folder",
]

#: ``find(root) -> found or None`` and ``verify(report, found, missing)`` of one layout.
Verifier = tuple[Callable[[Path], Any], Callable[["VerifyReport", Any, str], None]]
#: The layouts whose files have digests worth listing (the published HDF5 archives).
_ARCHIVE_LAYOUTS = ("modelnet40_hdf5", "shapenetpart_hdf5")


@dataclass
class VerifyReport:
    """Lines to print and the problems found (empty when the folder is good)."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, message: str) -> None:
        self.problems.append(message)
        self.lines.append(f"  PROBLEM: {message}")

    def text(self) -> str:
        verdict = "OK" if self.ok else f"FAILED ({len(self.problems)} problem(s))"
        return "\n".join([*self.lines, f"verdict: {verdict}"])


def sha256(path: Path) -> str:
    """The file's SHA-256 digest, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def id_list_length(h5_path: Path) -> tuple[Path, int] | None:
    """Entries in ``ply_data_train_0_id2file.json`` beside ``ply_data_train0.h5``, if present."""
    match = re.fullmatch(r"(.*?)(\d+)", h5_path.stem)
    if match is None:
        return None
    json_path = h5_path.with_name(f"{match[1]}_{match[2]}_id2file.json")
    if not json_path.is_file():
        return None
    try:
        return json_path, len(json.loads(json_path.read_text()))
    except (OSError, ValueError) as exc:
        raise DataError(f"{json_path}: unreadable shape list ({exc})") from exc


def check_split(
    report: VerifyReport,
    full: int,
    split: str,
    list_files: Callable[[], list[Path]],
    read: Callable[[Path], tuple[int, str]],
) -> None:
    """Check every file of one split, adding one line per file; totals at the end, beside ``full``,
    the split's size in the full published archive."""
    try:
        files = list_files()
    except DataError as exc:
        report.problem(str(exc))
        return
    total = 0
    for path in files:
        try:
            count, summary = read(path)
        except DataError as exc:
            report.problem(str(exc))
            continue
        total += count
        report.lines.append(f"  {split}: {path.name}: {summary}, sha256 {sha256(path)[:16]}")
    report.lines.append(f"  {split}: {total} shapes in {len(files)} file(s) (full archive: {full})")


def guarded(check: Callable[[Any], Any], item: Any) -> Any:
    """``check(item)``, or the :class:`DataError` message, so one bad file does not stop a run."""
    try:
        return check(item)
    except DataError as exc:
        return str(exc)


def read_checked(report: VerifyReport, check: Callable[[Any], Any], items: list, split: str) -> list:
    """``check(item)`` for every item (in worker processes when there are many), each failure one
    problem line; the results of the items that passed, in order.

    ``check`` must be a module-level function (workers receive it pickled).
    """
    results = []
    checked = functools.partial(guarded, check)
    for result in read_all(checked, items, description=f"verify {split}"):
        if isinstance(result, str):
            report.problem(result)
        else:
            results.append(result)
    return results


def present_listed(
    report: VerifyReport, list_file: Path, entries: list, files: list, missing: str
) -> list | None:
    """The listed entries present; missing ones are a problem (``error``) or a note (``skip``)."""
    kept, summary = split_missing(list_file, entries, files)
    if summary is None:
        return kept
    if missing == "error":
        report.problem(
            f"{summary}; the copy is incomplete (`--missing skip` checks the {len(kept)} present)"
        )
        return None
    report.lines.append(f"  note: {summary}; checking the {len(kept)} present")
    return kept


def verify_folder(path: str | Path, layout: str = "auto", missing: str = "error") -> VerifyReport:
    """Verify every layout found at ``path`` (itself, or its archive sub-folders), or one named.

    Args:
        path: a data folder.
        layout: ``"auto"``, or one of :func:`known_layouts`.
        missing: ``"skip"`` notes listed files that are absent (deliberate subsets) instead of
            reporting them as a problem.
    """
    path = Path(path).expanduser()
    report = VerifyReport()
    if not path.is_dir():
        report.lines.append(f"verify {path}")
        report.problem(f"{path} is not a folder")
        return report
    from pointea.data.modelnet40 import ModelNet40
    from pointea.data.shapenetpart import ShapeNetPart

    layouts = _layouts()
    if layout != "auto" and layout not in layouts:
        report.lines.append(f"verify {path}")
        report.problem(f"--layout must be auto or one of {', '.join(layouts)}; got {layout!r}")
        return report
    chosen = layouts if layout == "auto" else {layout: layouts[layout]}
    found = [
        (name, verify, hit)
        for name, (find, verify) in chosen.items()
        if (hit := find(path)) is not None
    ]
    if not found:
        report.lines.append(f"verify {path}")
        if layout == "auto":
            report.problem(
                f"{path}: no ModelNet40 layout ({ModelNet40.NAMES_FILE}) and no ShapeNetPart layout "
                f"({ShapeNetPart.CATEGORIES_FILE}) here or in {ModelNet40.ARCHIVE_DIR}/, "
                f"{'/, '.join(ShapeNetPart.ARCHIVE_DIRS)}/, and none of the other layouts "
                f"({', '.join(list(layouts)[2:])}; see docs/data.md)"
            )
        else:
            report.problem(f"{path}: no {layout} layout here (see docs/data.md for what it holds)")
        return report
    for _, verify, hit in found:
        verify(report, hit, missing)
    if any(name in _ARCHIVE_LAYOUTS for name, _, _ in found):
        report.lines.append(
            "checksums: no official SHA-256 digests are recorded; internal consistency checked, "
            "file digests (first 16 hex digits) listed above"
        )
    return report


def _layouts() -> dict[str, Verifier]:
    """layout name -> verifier: the HDF5 archives first, then the other releases."""
    # The data set modules import this one (for the report and the shared steps).
    from pointea.data import modelnet40, scanobjectnn, shapenetpart

    verifiers = {**modelnet40.VERIFIERS, **shapenetpart.VERIFIERS, **scanobjectnn.VERIFIERS}
    first = {name: verifiers.pop(name) for name in _ARCHIVE_LAYOUTS}
    return {**first, **verifiers}


def known_layouts() -> list[str]:
    """The names ``--layout`` accepts (besides ``auto``)."""
    return list(_layouts())
