"""The predictions writer: what ``pointea predict`` and ``pointea-predict`` leave in their output folder.

Both commands hand every predicted cloud to one :class:`PredictionsWriter`, so both write the same
files with the same columns:

- ``predictions.csv``: one row per cloud, sorted by ``index``: ``index, file, points, resampled``
  (``file`` is empty for clouds a data module served; ``resampled`` is 1 where a cloud had fewer
  distinct points than the network samples and was drawn again), then the task's own columns.
- ``predictions.json``: the run's summary (checkpoint, preprocessing, ...), one entry per cloud
  and the unreadable files with their reasons.
- per-cloud files, where the task has any (part segmentation: ``<name>.parts.ply`` coloured by
  part and ``<name>.parts.npz``), written as each cloud is predicted so memory stays bounded.

What a task writes is one :class:`TaskOutputs` subclass registered in :data:`TASK_OUTPUTS`; a new
task is one new class, nothing else. Every file is written atomically (temporary name + rename,
:mod:`pointea.io.atomic`).

Shape legend: N points of a cloud, C classes, K part labels.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pointea.io.atomic import atomic_write
from pointea.io.cloud import PointCloud
from pointea.io.write import write_points

__all__ = [
    "CloudPrediction",
    "TaskOutputs",
    "ClassificationOutputs",
    "PerPointLabelOutputs",
    "PartSegmentationOutputs",
    "SemanticSegmentationOutputs",
    "NormalOutputs",
    "TASK_OUTPUTS",
    "task_outputs",
    "PredictionsWriter",
    "text_table",
]

#: Columns every ``predictions.csv`` starts with.
COMMON_COLUMNS = ["index", "file", "points", "resampled"]


@dataclass
class CloudPrediction:
    """One predicted cloud, as the commands hand it to the writer.

    Attributes:
        index: the cloud's position (in the file list, or the data set's index).
        file: the file it was read from; ``""`` for clouds a data module served.
        points: points read (or served).
        resampled: the cloud had fewer distinct points than the network samples and was resampled.
        outputs: the task's arrays and values (see each :class:`TaskOutputs`).
    """

    index: int
    file: str = ""
    points: int = 0
    resampled: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)


class TaskOutputs:
    """What one task writes. Subclasses set :attr:`task` and override what they need.

    :meth:`summarise` turns a prediction into a small JSON-able record as soon as it arrives (the
    writer keeps only these records, never the per-point arrays); :meth:`columns` and :meth:`row`
    make the task's CSV columns from the records; :meth:`write_files` writes per-cloud files.
    """

    task: ClassVar[str] = ""
    #: What ``text_table`` calls the task's column.
    shown: ClassVar[str] = "prediction"

    def summarise(self, prediction: CloudPrediction) -> dict[str, Any]:
        raise NotImplementedError

    def columns(self, records: Sequence[dict[str, Any]]) -> list[str]:
        raise NotImplementedError

    def row(self, record: dict[str, Any], columns: Sequence[str]) -> list[Any]:
        return [record.get(column, "") for column in columns]

    def show(self, record: dict[str, Any]) -> str:
        """The record in a few words, for the table on stdout."""
        raise NotImplementedError

    def write_files(self, folder: Path, stem: str, prediction: CloudPrediction) -> list[str]:
        """Per-cloud files written into ``folder`` (names starting with ``stem``); returns their names."""
        return []


class ClassificationOutputs(TaskOutputs):
    """Top-k classes per cloud.

    Args:
        labels: the checkpoint's label record, ``{"classes": [names] or None}`` (``"class 7"``
            for ids without a name).
        top_k: labels per cloud.

    Prediction outputs: ``probabilities`` (C,) float, and optionally ``label`` the true class id.
    CSV columns: ``label_1, probability_1, ..., label_k, probability_k`` and ``true_label`` when
    the clouds have one.
    """

    task = "classification"
    shown = "top classes (probability)"

    def __init__(self, labels: Mapping[str, Any], top_k: int = 5) -> None:
        self.class_names = list(labels.get("classes") or [])
        self.top_k = top_k

    def name(self, index: int) -> str:
        return self.class_names[index] if index < len(self.class_names) else f"class {index}"

    def summarise(self, prediction: CloudPrediction) -> dict[str, Any]:
        probabilities = np.asarray(prediction.outputs["probabilities"], dtype=np.float64)  # (C,)
        order = np.argsort(-probabilities, kind="stable")[: self.top_k]
        record: dict[str, Any] = {
            "top_k": [{"label": self.name(int(i)), "probability": round(float(probabilities[i]), 6)} for i in order]
        }
        if prediction.outputs.get("label") is not None:
            record["true_label"] = self.name(int(prediction.outputs["label"]))
        return record

    def columns(self, records: Sequence[dict[str, Any]]) -> list[str]:
        ranks = max((len(record["top_k"]) for record in records), default=0)
        ranked = [f"{what}_{rank}" for rank in range(1, ranks + 1) for what in ("label", "probability")]
        return ranked + (["true_label"] if any("true_label" in r for r in records) else [])

    def row(self, record: dict[str, Any], columns: Sequence[str]) -> list[Any]:
        values = [value for entry in record["top_k"] for value in (entry["label"], entry["probability"])]
        return [
            values[i] if i < len(values) else record.get(column, "") if column == "true_label" else ""
            for i, column in enumerate(columns)
        ]

    def show(self, record: dict[str, Any]) -> str:
        return ", ".join(f"{entry['label']} {entry['probability']:.3f}" for entry in record["top_k"][:3])


class PerPointLabelOutputs(TaskOutputs):
    """A label for every point: per-cloud ``<stem>.<suffix>.ply`` coloured by label and
    ``<stem>.<suffix>.npz``, and per-label point counts in the CSV. Subclasses name the labels.

    Prediction outputs: ``labels`` (N,) int label ids, ``cloud`` (N, 3) the points to write them on
    (as read), optionally ``true_labels`` (N,).
    """

    suffix: ClassVar[str] = "labels"
    column: ClassVar[str] = "label"  # CSV columns <column>_<id>: points per label id
    shown = "points per label id"

    def label_ids(self, prediction: CloudPrediction) -> list[int]:
        """The label ids the cloud may take (the CSV counts these)."""
        raise NotImplementedError

    def extra(self, prediction: CloudPrediction) -> dict[str, Any]:
        """What a subclass adds to the record (shown before the counts)."""
        return {}

    def summarise(self, prediction: CloudPrediction) -> dict[str, Any]:
        labels = np.asarray(prediction.outputs["labels"]).astype(np.int64)  # (N,)
        ids = self.label_ids(prediction)
        counts = np.bincount(labels, minlength=max(ids, default=-1) + 1)
        return {**self.extra(prediction), "counts": {str(i): int(counts[i]) for i in ids}}

    def columns(self, records: Sequence[dict[str, Any]]) -> list[str]:
        ids = sorted({int(i) for record in records for i in record["counts"]})
        return [*self.extra_columns(), *(f"{self.column}_{i}" for i in ids)]

    def extra_columns(self) -> list[str]:
        return []

    def row(self, record: dict[str, Any], columns: Sequence[str]) -> list[Any]:
        prefix = f"{self.column}_"
        return [
            record["counts"].get(column.removeprefix(prefix), "") if column.startswith(prefix) else record.get(column, "")
            for column in columns
        ]

    def show(self, record: dict[str, Any]) -> str:
        return " ".join(f"{i}:{n}" for i, n in record["counts"].items())

    def npz_arrays(self, prediction: CloudPrediction) -> dict[str, np.ndarray]:
        """What ``<stem>.<suffix>.npz`` holds."""
        outputs = prediction.outputs
        arrays = {"points": np.asarray(outputs["cloud"]), self.suffix: np.asarray(outputs["labels"]).astype(np.int64)}
        if outputs.get("true_labels") is not None:
            arrays[f"true_{self.suffix}"] = np.asarray(outputs["true_labels"]).astype(np.int64)
        return arrays

    def write_files(self, folder: Path, stem: str, prediction: CloudPrediction) -> list[str]:
        names = [f"{stem}.{self.suffix}.ply", f"{stem}.{self.suffix}.npz"]
        labels = np.asarray(prediction.outputs["labels"]).astype(np.int64)  # (N,)
        write_points(folder / names[0], np.asarray(prediction.outputs["cloud"]), labels=labels)
        with atomic_write(folder / names[1]) as handle:
            np.savez_compressed(handle, **self.npz_arrays(prediction))
        return names


class PartSegmentationOutputs(PerPointLabelOutputs):
    """Parts per point, restricted to the cloud's object category.

    Args:
        labels: the checkpoint's label record, ``{"categories": [...], "parts_per_category":
            {name: [global part ids]}}``.

    Prediction outputs: ``category`` (a name), ``labels`` (N,) global part ids, ``cloud`` (N, 3),
    optionally ``true_labels``. CSV columns: ``category, part_<id>...``; the ``.npz`` holds
    ``points, parts, category, part_ids`` (and ``true_parts``).
    """

    task = "part_segmentation"
    suffix = "parts"
    column = "part"
    shown = "points per part id"

    def __init__(self, labels: Mapping[str, Any]) -> None:
        self.parts_per_category = {str(k): [int(p) for p in v] for k, v in labels["parts_per_category"].items()}

    def label_ids(self, prediction: CloudPrediction) -> list[int]:
        return self.parts_per_category[prediction.outputs["category"]]

    def extra(self, prediction: CloudPrediction) -> dict[str, Any]:
        return {"category": prediction.outputs["category"]}

    def extra_columns(self) -> list[str]:
        return ["category"]

    def show(self, record: dict[str, Any]) -> str:
        return f"{record['category']}: {super().show(record)}"

    def npz_arrays(self, prediction: CloudPrediction) -> dict[str, np.ndarray]:
        category = prediction.outputs["category"]
        return {
            **super().npz_arrays(prediction),
            "category": np.array(category),
            "part_ids": np.array(self.parts_per_category[category]),
        }


class SemanticSegmentationOutputs(PerPointLabelOutputs):
    """A class for every point of a scene (a room, a lidar tile).

    Args:
        labels: the checkpoint's label record, ``{"classes": [names], "class_codes": [code per
            class] (optional)}``; ``class_codes`` (a lidar class map's ASPRS code of each class)
            are what a LAS/LAZ output's classification holds; without them, the class ids.

    Prediction outputs: ``labels`` (N,) class ids in the file's point order, ``cloud`` (N, 3),
    optionally ``true_labels``. Per cloud: ``<stem>.classes.ply`` coloured by class,
    ``<stem>.classes.npz`` (``points, classes, class_names``, ``true_classes``), and for a
    ``.las``/``.laz`` input ``<stem>.las``/``.laz``: a copy of the input whose classification holds
    the prediction, every other field kept (:func:`pointea.io.las.write_las_classification`). CSV
    columns: ``class_<id>``, the points of each class.
    """

    task = "semantic_segmentation"
    suffix = "classes"
    column = "class"
    shown = "points per class"

    def __init__(self, labels: Mapping[str, Any]) -> None:
        self.class_names = [str(name) for name in labels["classes"]]
        codes = labels.get("class_codes")
        self.class_codes = None if codes is None else np.asarray(codes, dtype=np.int64)

    def label_ids(self, prediction: CloudPrediction) -> list[int]:
        return list(range(len(self.class_names)))

    def show(self, record: dict[str, Any]) -> str:
        counts = {int(i): n for i, n in record["counts"].items() if n}
        return " ".join(f"{self.class_names[i]}:{n}" for i, n in sorted(counts.items(), key=lambda item: -item[1]))

    def npz_arrays(self, prediction: CloudPrediction) -> dict[str, np.ndarray]:
        return {**super().npz_arrays(prediction), "class_names": np.array(self.class_names)}

    def write_files(self, folder: Path, stem: str, prediction: CloudPrediction) -> list[str]:
        names = super().write_files(folder, stem, prediction)
        source = Path(prediction.file)
        if source.suffix.lower() in (".las", ".laz"):
            from pointea.io.las import write_las_classification

            labels = np.asarray(prediction.outputs["labels"]).astype(np.int64)  # (N,) in file order
            codes = labels if self.class_codes is None else self.class_codes[labels]
            name = f"{stem}{source.suffix.lower()}"
            write_las_classification(source, codes, folder / name)
            names.append(name)
        return names


class NormalOutputs(TaskOutputs):
    """A unit normal for every point: per-cloud ``<stem>.normals.ply`` (points with ``nx ny nz``)
    and ``<stem>.normals.npz`` (``points``, ``normals`` (N, 3) in the input's point order, and
    ``true_normals`` when the file has its own); in the CSV, the angular error against the file's
    own normals where it has them.

    Args:
        labels: the checkpoint's label record (``{"oriented": bool}``: what the loss was).

    Prediction outputs: ``normals`` (N, 3), ``cloud`` (N, 3) the points they belong to,
    ``orientation`` (how the normals were oriented, e.g. ``"none"``), optionally ``true_normals``
    (N, 3) and ``error``: metric name -> value (``mean_angle``, ``median_angle`` in degrees,
    ``under_10``, ``under_30`` shares, sign-free; see :mod:`pointea.training.normal_error`). CSV
    columns: ``orientation`` and, when any cloud has an error, ``mean_angle, median_angle,
    under_10, under_30`` (empty for clouds without normals of their own).
    """

    task = "normal_estimation"
    shown = "normals (error against the file's normals)"
    ERROR_COLUMNS: ClassVar[tuple[str, ...]] = ("mean_angle", "median_angle", "under_10", "under_30")

    def __init__(self, labels: Mapping[str, Any]) -> None:
        self.trained_oriented = bool(labels.get("oriented", False))

    def summarise(self, prediction: CloudPrediction) -> dict[str, Any]:
        record: dict[str, Any] = {"orientation": str(prediction.outputs.get("orientation", "none"))}
        error = prediction.outputs.get("error")
        if error:
            record.update({name: round(float(error[name]), 4) for name in self.ERROR_COLUMNS})
        return record

    def columns(self, records: Sequence[dict[str, Any]]) -> list[str]:
        scored = any(self.ERROR_COLUMNS[0] in record for record in records)
        return ["orientation", *(self.ERROR_COLUMNS if scored else ())]

    def show(self, record: dict[str, Any]) -> str:
        if "mean_angle" not in record:
            return "written (the file has no normals to compare)"
        return (
            f"mean {record['mean_angle']:.1f} deg, median {record['median_angle']:.1f} deg, "
            f"{100 * record['under_10']:.0f} % under 10 deg"
        )

    def write_files(self, folder: Path, stem: str, prediction: CloudPrediction) -> list[str]:
        names = [f"{stem}.normals.ply", f"{stem}.normals.npz"]
        outputs = prediction.outputs
        cloud = np.asarray(outputs["cloud"], dtype=np.float32)  # (N, 3)
        normals = np.asarray(outputs["normals"], dtype=np.float32)  # (N, 3)
        write_points(folder / names[0], PointCloud(points=cloud, normals=normals))
        arrays = {"points": cloud, "normals": normals}
        if outputs.get("true_normals") is not None:
            arrays["true_normals"] = np.asarray(outputs["true_normals"], dtype=np.float32)
        with atomic_write(folder / names[1]) as handle:
            np.savez_compressed(handle, **arrays)
        return names


#: Task string of the checkpoint record -> what it writes. A new task adds its class here.
TASK_OUTPUTS: dict[str, type[TaskOutputs]] = {
    ClassificationOutputs.task: ClassificationOutputs,
    PartSegmentationOutputs.task: PartSegmentationOutputs,
    SemanticSegmentationOutputs.task: SemanticSegmentationOutputs,
    NormalOutputs.task: NormalOutputs,
}


def task_outputs(task: str, labels: Mapping[str, Any], **options: Any) -> TaskOutputs:
    """The :class:`TaskOutputs` of ``task`` built from the checkpoint's label record.

    Raises:
        ValueError: pointea writes no predictions for the task.
    """
    if task not in TASK_OUTPUTS:
        raise ValueError(f"pointea writes no predictions for task {task!r}; it writes {', '.join(TASK_OUTPUTS)}")
    return TASK_OUTPUTS[task](labels, **options)


def text_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain aligned text table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


class PredictionsWriter:
    """Collects one run's predictions and writes them into ``folder`` (see the module docstring).

    Args:
        folder: the output folder; must exist.
        outputs: what the task writes.
        per_cloud_files: write the task's per-cloud files (``pointea-predict``); ``pointea
            predict`` on a whole test set writes only the tables and, optionally, one stacked
            ``.npz`` (:meth:`write_arrays`).
        stem: the tables' file name without suffix (``predictions``; ``predictions.rank<r>`` per
            process when several processes predict).
    """

    def __init__(self, folder: str | Path, outputs: TaskOutputs, per_cloud_files: bool = True, stem: str = "predictions") -> None:
        self.folder = Path(folder)
        self.outputs = outputs
        self.per_cloud_files = per_cloud_files
        self.stem = stem
        self.records: list[dict[str, Any]] = []
        self._taken: set[str] = set()

    @property
    def csv_path(self) -> Path:
        return self.folder / f"{self.stem}.csv"

    @property
    def json_path(self) -> Path:
        return self.folder / f"{self.stem}.json"

    def add(self, prediction: CloudPrediction) -> dict[str, Any]:
        """Write the cloud's own files now and keep its record (returned)."""
        record = {
            "index": int(prediction.index),
            "file": prediction.file,
            "points": int(prediction.points),
            "resampled": int(bool(prediction.resampled)),
            **self.outputs.summarise(prediction),
        }
        if self.per_cloud_files:
            record["outputs"] = self.outputs.write_files(self.folder, self._unique_stem(prediction), prediction)
        self.records.append(record)
        return record

    def _unique_stem(self, prediction: CloudPrediction) -> str:
        """The file's stem (or the index), made unique among the clouds written."""
        base = Path(prediction.file).stem if prediction.file else f"{prediction.index:06d}"
        name, count = base, 1
        while name in self._taken:
            count += 1
            name = f"{base}-{count}"
        self._taken.add(name)
        return name

    def sorted_records(self) -> list[dict[str, Any]]:
        return sorted(self.records, key=lambda record: record["index"])

    def table(self) -> str:
        """The records as a text table (``file`` or ``index``, points, the task's summary)."""
        records = self.sorted_records()
        by_file = any(record["file"] for record in records)
        rows = [
            [record["file"] if by_file else record["index"], record["points"] if not record["resampled"] else f"{record['points']} (resampled)",
             self.outputs.show(record)]
            for record in records
        ]
        return text_table(rows, ["file" if by_file else "index", "points", self.outputs.shown])

    def write_arrays(self, arrays: Mapping[str, np.ndarray]) -> Path:
        """Stacked per-cloud arrays as ``<stem>.npz`` (``numpy.load``). Shapes: each (M, ...)."""
        path = self.folder / f"{self.stem}.npz"
        with atomic_write(path) as handle:
            np.savez_compressed(handle, **arrays)
        return path

    def finish(self, summary: Mapping[str, Any] | None = None, unreadable: Sequence[tuple[Any, str]] = ()) -> list[Path]:
        """Write ``<stem>.csv`` and ``<stem>.json``; returns their paths."""
        records = self.sorted_records()
        task_columns = self.outputs.columns(records)
        with atomic_write(self.csv_path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(COMMON_COLUMNS + task_columns)
            writer.writerows(
                [record[column] for column in COMMON_COLUMNS] + self.outputs.row(record, task_columns) for record in records
            )
        report = {
            "task": self.outputs.task,
            **(summary or {}),
            "predictions": records,
            "unreadable": [{"file": str(path), "reason": reason} for path, reason in unreadable],
        }
        with atomic_write(self.json_path, "w") as handle:
            handle.write(json.dumps(report, indent=2) + "\n")
        return [self.csv_path, self.json_path]
