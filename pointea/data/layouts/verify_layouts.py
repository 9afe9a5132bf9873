"""``pointea-data verify`` for the text, mesh and ScanObjectNN layouts.

Each verifier reads every present file of every split with the loaders' own readers (in worker
processes for large releases), reports listed files that are missing (one line: count and the
first), and adds one summary line per split; a bad file is one problem line naming it (and the
line, for text), and checking goes on. ``missing="skip"`` turns missing listed files into a note,
for deliberate subsets such as the samples in ``../shared/data``.

Shape legend: N points of one shape.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pointea.data.layouts.convert import read_all
from pointea.data.layouts.listing import MissingPolicy, split_missing
from pointea.data.layouts.modelnet40_normal_resampled import NormalResampled
from pointea.data.layouts.modelnet40_off import PrincetonOFF
from pointea.data.layouts.shapenetpart_text import V0, ShapeNetPartRelease, TextShape, V0Normal
from pointea.data.scanobjectnn import SCANOBJECTNN_VARIANTS, ScanObjectNN
from pointea.data.shapenetpart import ShapeNetPart
from pointea.errors import DataError

if TYPE_CHECKING:
    from pointea.data.verify import VerifyReport

__all__ = ["layout_verifiers", "find_scanobjectnn_variants"]

#: Points sampled per mesh when verifying ``.off`` files (enough to exercise the sampler).
_VERIFY_MESH_POINTS = 256


def _guarded(check: Callable[[Any], Any], item: Any) -> Any:
    """``check(item)``, or the :class:`DataError` message, so one bad file does not stop a run."""
    try:
        return check(item)
    except DataError as exc:
        return str(exc)


def _present(
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


def _check_normal_resampled(path: Path) -> tuple[int, int]:
    from pointea.io import read_points

    cloud = read_points(path)
    if cloud.normals is None:
        raise DataError(
            f"{path}: expected 6 columns x,y,z,nx,ny,nz, read {', '.join(cloud.columns)}"
        )
    off_unit = int((np.abs(np.linalg.norm(cloud.normals, axis=-1) - 1) > 1e-2).sum())
    return len(cloud), off_unit


def _verify_normal_resampled(report: VerifyReport, release: NormalResampled, missing: str) -> None:
    report.lines.append(f"ModelNet40 normal_resampled layout: {release.folder}")
    try:
        names = release.class_names()
    except DataError as exc:
        report.problem(str(exc))
        return
    report.lines.append(f"  classes: {len(names)} ({', '.join(names[:4])}, ...)")
    for split in release.SPLITS:
        try:
            listed = release.listed(split)
        except DataError as exc:
            report.problem(str(exc))
            continue
        shapes = _present(
            report, release.list_file(split), listed, [[s.path] for s in listed], missing
        )
        if shapes is None:
            continue
        counts, off_unit = [], 0
        check = functools.partial(_guarded, _check_normal_resampled)
        results = read_all(check, [s.path for s in shapes], description=f"verify {split}")
        for result in results:
            if isinstance(result, str):
                report.problem(result)
                continue
            counts.append(result[0])
            off_unit += result[1]
        labels = sorted({s.label for s in shapes})
        span = f"{min(counts)}..{max(counts)}" if counts else "-"
        report.lines.append(
            f"  {split}: {len(counts)} of {len(listed)} listed shapes read, {span} points each, "
            f"labels {labels[0]}..{labels[-1]} ({len(labels)} classes), normals ({off_unit} of "
            f"{sum(counts)} not unit length) (full release: {release.FULL_SIZES[split]})"
        )


def _check_mesh(path: Path) -> int:
    from pointea.io import read_points

    return len(read_points(path, num_points=_VERIFY_MESH_POINTS))


def _verify_off(report: VerifyReport, release: PrincetonOFF, missing: str) -> None:
    report.lines.append(f"ModelNet40 .off layout: {release.folder}")
    try:
        names = release.class_names()
    except DataError as exc:
        report.problem(str(exc))
        return
    report.lines.append(
        f"  classes: {len(names)} ({', '.join(names[:4])}, ...), label order = sorted folders"
    )
    for split in release.SPLITS:
        try:
            shapes = release.shapes(split)
        except DataError as exc:
            report.problem(str(exc))
            continue
        read = 0
        for result in read_all(functools.partial(_guarded, _check_mesh), [s.path for s in shapes],
                               description=f"verify {split}"):  # fmt: skip
            if isinstance(result, str):
                report.problem(result)
            else:
                read += 1
        classes = len({s.label for s in shapes})
        report.lines.append(
            f"  {split}: {read} of {len(shapes)} meshes read and sampled ({classes} classes) "
            f"(full release: {release.FULL_SIZES[split]})"
        )


def _check_text_shape(release: ShapeNetPartRelease, shape: TextShape) -> tuple[int, np.ndarray]:
    points, _, parts = release.read(shape)
    return points.shape[0], np.unique(parts)


def _verify_shapenetpart_text(
    report: VerifyReport, release: ShapeNetPartRelease, missing: str
) -> None:
    report.lines.append(f"ShapeNetPart {release.LAYOUT} layout: {release.folder}")
    try:
        release.synsets()
    except DataError as exc:
        report.problem(str(exc))
        return
    local = " (local ids 1..k mapped to the global 50)" if release.LAYOUT == "v0" else ""
    report.lines.append(f"  categories: 16 standard, parts 0..49{local}")
    for split in release.SPLITS:
        try:
            listed = release.listed(split)
        except DataError as exc:
            report.problem(str(exc))
            continue
        shapes = _present(
            report, release.list_file(split), listed, [s.files for s in listed], missing
        )
        if shapes is None:
            continue
        counts, parts = [], set()
        check = functools.partial(_guarded, functools.partial(_check_text_shape, release))
        for result in read_all(check, shapes, description=f"verify {split}"):
            if isinstance(result, str):
                report.problem(result)
                continue
            counts.append(result[0])
            parts.update(result[1].tolist())
        categories = sorted({ShapeNetPart.CATEGORIES[s.category] for s in shapes})
        if not counts:
            report.lines.append(f"  {split}: none of the {len(listed)} listed shapes present")
            continue
        span = f"{min(counts)}..{max(counts)} points"
        report.lines.append(
            f"  {split}: {len(counts)} of {len(listed)} listed shapes read, {span}, "
            f"{len(categories)} categories, {len(parts)} parts used, all within their category "
            f"(full release: {release.FULL_SIZES[split]})"
        )


def find_scanobjectnn_variants(root: str | Path) -> list[str]:
    """The ScanObjectNN variants with at least one file under ``root``."""
    return [
        variant for variant in SCANOBJECTNN_VARIANTS
        if any(ScanObjectNN.find(root, split, variant) for split in ScanObjectNN.SPLITS)
    ]  # fmt: skip


def _verify_scanobjectnn(report: VerifyReport, root: Path, missing: str) -> None:
    report.lines.append(f"ScanObjectNN layout: {root}")
    report.lines.append(
        f"  classes: {len(ScanObjectNN.CLASS_NAMES)} ({', '.join(ScanObjectNN.CLASS_NAMES[:4])}, ...)"
    )
    for variant in find_scanobjectnn_variants(root):
        for split in ScanObjectNN.SPLITS:
            try:
                path = ScanObjectNN.locate(root, split, variant)
                points, labels, foreground = ScanObjectNN.read_file(path)
            except DataError as exc:
                report.problem(str(exc))
                continue
            full = ScanObjectNN.FULL_SIZES[variant][split]
            report.lines.append(
                f"  {variant} {split}: {path.name}: {points.shape[0]} shapes x {points.shape[1]} points, "
                f"labels {labels.min()}..{labels.max()} ({np.unique(labels).size} classes), "
                f"{1 - foreground.mean():.1%} background points (full file: {full})"
            )


def layout_verifiers(missing: MissingPolicy = "error") -> dict[str, tuple[Callable, Callable]]:
    """layout name -> (find(root) -> found or None, verify(report, found))."""

    def scan_find(root: Path) -> Path | None:
        return Path(root) if find_scanobjectnn_variants(root) else None

    return {
        "modelnet40_normal_resampled": (
            NormalResampled.find,
            functools.partial(_bind, _verify_normal_resampled, missing),
        ),
        "modelnet40_off": (PrincetonOFF.find, functools.partial(_bind, _verify_off, missing)),
        "shapenetpart_v0_normal": (
            V0Normal.find,
            functools.partial(_bind, _verify_shapenetpart_text, missing),
        ),
        "shapenetpart_v0": (V0.find, functools.partial(_bind, _verify_shapenetpart_text, missing)),
        "scanobjectnn": (scan_find, functools.partial(_bind, _verify_scanobjectnn, missing)),
    }


def _bind(verify: Callable, missing: str, report: VerifyReport, found: Any) -> None:
    verify(report, found, missing)
