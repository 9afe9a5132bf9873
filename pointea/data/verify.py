"""``pointea-data verify``: check that a folder holds complete, well-formed archives; report them.

Runs the loaders' own per-file checks (keys, shapes, dtypes, label and part ranges, part ids within
their category, NaN/Inf, empty clouds) on every listed file of every split, plus the optional
``normal`` dataset and the ``*_id2file.json`` shape lists where present. Each problem becomes one
report line naming the file; the report is not stopped by the first bad file.

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

import numpy as np

from pointea.data.modelnet40 import ModelNet40
from pointea.data.shapenetpart import ShapeNetPart
from pointea.errors import DataError

__all__ = ["VerifyReport", "verify_folder", "known_layouts"]

#: Shapes per split in the full published archives, reported for comparison.
_FULL_SIZES = {
    "ModelNet40": {"train": 9840, "test": 2468},
    "ShapeNetPart": {"train": 12137, "val": 1870, "test": 2874},
}


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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _id_list_length(h5_path: Path) -> tuple[Path, int] | None:
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


def _check_split(
    report: VerifyReport,
    dataset: str,
    split: str,
    list_files: Callable[[], list[Path]],
    read: Callable[[Path], tuple[int, str]],
) -> None:
    """Check every file of one split, adding one line per file; totals at the end."""
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
        report.lines.append(f"  {split}: {path.name}: {summary}, sha256 {_sha256(path)[:16]}")
    full = _FULL_SIZES[dataset][split]
    report.lines.append(f"  {split}: {total} shapes in {len(files)} file(s) (full archive: {full})")


def _verify_modelnet40(report: VerifyReport, folder: Path) -> None:
    report.lines.append(f"ModelNet40 layout: {folder}")
    try:
        names = ModelNet40.read_class_names(folder)
    except DataError as exc:
        report.problem(str(exc))
        return
    report.lines.append(f"  classes: {len(names)} ({', '.join(names[:4])}, ...)")

    def read(path: Path) -> tuple[int, str]:
        content = ModelNet40.read_file(path, len(names), normals=True)
        count, points = content.points.shape[:2]
        ids = _id_list_length(path)
        if ids is not None and ids[1] != count:
            raise DataError(f"{ids[0]}: lists {ids[1]} shapes, but {path.name} holds {count}")
        extras = ""
        if content.normals is not None:
            # Informational: the published normals include a handful of non-unit vectors.
            off = int((np.abs(np.linalg.norm(content.normals, axis=-1) - 1) > 1e-2).sum())
            extras = f", normals ({off} of {content.normals.shape[0] * points} not unit length)"
        labels = content.labels
        extras += f", {ids[0].name} consistent" if ids is not None else ""
        return count, (
            f"{count} shapes x {points} points, labels {labels.min()}..{labels.max()} "
            f"({np.unique(labels).size} classes){extras}"
        )

    for split in ModelNet40.SPLITS:
        files = functools.partial(ModelNet40.split_files, folder, split)
        _check_split(report, "ModelNet40", split, files, read)


def _verify_shapenetpart(report: VerifyReport, folder: Path) -> None:
    report.lines.append(f"ShapeNetPart layout: {folder}")
    try:
        ShapeNetPart.read_categories(folder)
    except DataError as exc:
        report.problem(str(exc))
        return
    report.lines.append(f"  categories: {len(ShapeNetPart.CATEGORIES)} standard, parts 0..49")

    def read(path: Path) -> tuple[int, str]:
        content = ShapeNetPart.read_file(path)
        count, points = content.points.shape[:2]
        present = [ShapeNetPart.CATEGORIES[c] for c in np.unique(content.categories)]
        return count, (
            f"{count} shapes x {points} points, {len(present)} categories "
            f"({', '.join(present[:5])}{', ...' if len(present) > 5 else ''}), "
            f"{np.unique(content.parts).size} parts used, all within their category"
        )

    for split in ShapeNetPart.SPLITS:
        files = functools.partial(ShapeNetPart.split_files, folder, split)
        _check_split(report, "ShapeNetPart", split, files, read)


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
    layouts = _layouts(missing)
    if layout != "auto" and layout not in layouts:
        report.lines.append(f"verify {path}")
        report.problem(f"--layout must be auto or one of {', '.join(layouts)}; got {layout!r}")
        return report
    chosen = layouts if layout == "auto" else {layout: layouts[layout]}
    found = [(verify, hit) for find, verify in chosen.values() if (hit := find(path)) is not None]
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
    for verify, hit in found:
        verify(report, hit)
    if any(verify in (_verify_modelnet40, _verify_shapenetpart) for verify, _ in found):
        report.lines.append(
            "checksums: no official SHA-256 digests are recorded; internal consistency checked, "
            "file digests (first 16 hex digits) listed above"
        )
    return report


def _layouts(missing: str) -> dict[str, tuple[Callable, Callable]]:
    """layout name -> (find(path) -> found or None, verify(report, found))."""
    from pointea.data.layouts.verify_layouts import layout_verifiers  # it imports this module

    return {
        "modelnet40_hdf5": (ModelNet40.LAYOUT.find, _verify_modelnet40),
        "shapenetpart_hdf5": (ShapeNetPart.LAYOUT.find, _verify_shapenetpart),
        **layout_verifiers(missing),
    }


def known_layouts() -> list[str]:
    """The names ``--layout`` accepts (besides ``auto``)."""
    return list(_layouts("error"))
