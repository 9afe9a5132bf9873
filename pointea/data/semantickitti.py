"""SemanticKITTI: Velodyne scans in the release layout, 19 evaluated classes.

Layout (``root`` may be the folder holding ``dataset/``, ``dataset/`` itself or ``sequences/``)::

    dataset/sequences/NN/velodyne/NNNNNN.bin   float32 (N, 4): x, y, z, remission
    dataset/sequences/NN/labels/NNNNNN.label   uint32 (N,): semantic id (lower 16 bits), instance id

The release's ``semantic-kitti.yaml`` (``label_config``; found beside ``root`` when not given,
else the copy of its learning map held here, :data:`LEARNING_MAP`) maps the 34 raw semantic ids to
the 19 evaluated classes and 0 (unlabelled and outlier, other-structure, other-object), which is
served as ``ignore_index``; class k of the 19 is the release's learning id k + 1. A raw id outside
the map is ignored too.

Split: the release's standard one, sequences 00-07 and 09-10 train, 08 validates; the test
sequences 11-21 have no labels, so the test split is 08 as well unless ``test_sequences`` says
otherwise (an unlabelled test sequence serves ``ignore_index`` everywhere: prediction only).

Each scan is one scene (about 120,000 points), memory-mapped; remission is the ``"intensity"``
feature. Errors, one line naming the file: a ``.bin`` whose size is not a multiple of 16 bytes, a
``.label`` file whose count differs from its scan's or that is missing beside its scan, a listed
sequence that is absent, a training sequence without labels, a NaN or infinite coordinate or
remission (found where the scan is first served), a label config whose learning map names a raw id
outside 0..65535 or a learning id outside 0..classes.

Shape legend: N points of a scan.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pointea.data.crops import CropPreset
from pointea.data.scene import Scene
from pointea.data.scenes import SceneDataModule, Split
from pointea.errors import ConfigError, DataError

__all__ = [
    "LEARNING_MAP",
    "CLASS_NAMES",
    "STANDARD_SPLIT",
    "SemanticKITTIDataModule",
    "read_label_config",
    "read_scan",
]

#: The release's learning map: raw semantic id -> learning id (0 unlabelled, 1..19 the classes).
LEARNING_MAP: dict[int, int] = {
    0: 0, 1: 0, 10: 1, 11: 2, 13: 5, 15: 3, 16: 5, 18: 4, 20: 5, 30: 6, 31: 7, 32: 8, 40: 9,
    44: 10, 48: 11, 49: 12, 50: 13, 51: 14, 52: 0, 60: 9, 70: 15, 71: 16, 72: 17, 80: 18, 81: 19,
    99: 0, 252: 1, 253: 7, 254: 6, 255: 8, 256: 5, 257: 5, 258: 4, 259: 5,
}  # fmt: skip
#: The 19 evaluated classes, learning ids 1..19 in order.
CLASS_NAMES: tuple[str, ...] = (
    "car", "bicycle", "motorcycle", "truck", "other-vehicle", "person", "bicyclist",
    "motorcyclist", "road", "parking", "sidewalk", "other-ground", "building", "fence",
    "vegetation", "trunk", "terrain", "pole", "traffic-sign",
)  # fmt: skip
STANDARD_SPLIT: dict[str, tuple[int, ...]] = {
    "train": (0, 1, 2, 3, 4, 5, 6, 7, 9, 10), "valid": (8,), "test": tuple(range(11, 22)),
}  # fmt: skip
CONFIG_NAME = "semantic-kitti.yaml"
#: The largest raw semantic id: a label's lower 16 bits.
MAX_RAW_ID = 0xFFFF


def read_label_config(
    path: str | Path,
) -> tuple[dict[int, int], tuple[str, ...], dict[str, tuple[int, ...]]]:
    """The learning map, the class names (learning ids 1..) and the split of a ``semantic-kitti.yaml``."""
    import yaml

    path = Path(path).expanduser()
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, OSError, yaml.YAMLError) as error:
        problem = (
            f"not UTF-8 text: {error.reason} at byte {error.start}"
            if isinstance(error, UnicodeDecodeError)
            else str(error).splitlines()[0]
        )
        raise ConfigError(f"{path}: not a readable SemanticKITTI label config ({problem})") from None
    keys = "labels, learning_map, learning_map_inv, split"
    if not isinstance(content, dict):
        raise ConfigError(
            f"{path}: expected a mapping with the release's keys {keys}, got {type(content).__name__}"
        )
    missing = [key for key in keys.split(", ") if key not in content]
    if missing:
        raise ConfigError(f"{path}: no {', '.join(missing)}; expected the release's keys {keys}")
    try:
        learning = {int(k): int(v) for k, v in content["learning_map"].items()}
        inverse = {int(k): int(v) for k, v in content["learning_map_inv"].items()}
        labels = {int(k): str(v) for k, v in content["labels"].items()}
        if not inverse or not learning:
            raise ConfigError(f"{path}: an empty learning_map or learning_map_inv; expected the release's maps")
        for k in range(1, max(inverse) + 1):
            if k not in inverse:
                raise ConfigError(f"{path}: learning_map_inv has no learning id {k}; expected 1..{max(inverse)}, each once")
            if inverse[k] not in labels:
                raise ConfigError(f"{path}: labels has no name for raw id {inverse[k]} (learning_map_inv's class {k})")
        names = tuple(labels[inverse[k]] for k in range(1, max(inverse) + 1))
        split = {
            key: tuple(int(s) for s in content["split"][key]) for key in ("train", "valid", "test")
        }
    except ConfigError:
        raise  # a ValueError, but already the line to show
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ConfigError(f"{path}: expected the release's keys {keys} ({error!r})") from None
    for raw, learned in learning.items():
        if not 0 <= raw <= MAX_RAW_ID:
            raise ConfigError(
                f"{path}: learning_map: raw id {raw} is not a semantic id 0..{MAX_RAW_ID} (the lower 16 bits of a label)"
            )
        if not 0 <= learned <= len(names):
            raise ConfigError(
                f"{path}: learning_map: raw id {raw} maps to learning id {learned}, expected 0..{len(names)} "
                f"(0 ignored, then the {len(names)} classes of learning_map_inv)"
            )
    return learning, names, split


def read_scan(velodyne: Path, labels: Path | None, lookup: np.ndarray, name: str) -> Scene:
    """One scan, memory-mapped, with its labels' semantic ids mapped through ``lookup``."""
    size = velodyne.stat().st_size
    if size % 16:
        raise DataError(
            f"{velodyne}: {size} bytes, not a multiple of 16 (float32 x y z remission per point)"
        )
    scan = (
        np.memmap(velodyne, dtype=np.float32, mode="r", shape=(size // 16, 4))
        if size
        else np.zeros((0, 4), np.float32)
    )
    label = None
    if labels is not None:
        label_size = labels.stat().st_size
        if label_size != size // 4:
            raise DataError(
                f"{labels}: {label_size // 4 if label_size % 4 == 0 else label_size / 4} labels for the "
                f"{size // 16} points of {velodyne.name}; expected one uint32 per point"
            )
        label = (
            np.memmap(labels, dtype=np.uint32, mode="r") if label_size else np.zeros(0, np.uint32)
        )
    return _Scan(name, velodyne, scan[:, :3], label, intensity=scan[:, 3], intensity_scale=1.0,
                 lookup=lookup, label_mask=0xFFFF)  # fmt: skip


class _Scan(Scene):
    """A scan whose one pass over the points (:attr:`Scene.bounds`, where it is first served)
    also refuses a NaN or infinite remission: the feature would be NaN for every crop holding it
    (the remission shares the coordinates' pages of the ``.bin``: no more reading)."""

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        if self._bounds is None and self.intensity is not None and len(self):
            finite = np.isfinite(self.intensity)  # (N,)
            if not finite.all():
                first = int(np.flatnonzero(~finite)[0])
                raise DataError(
                    f"{self.path}: point {first} of {self.name} has remission {float(self.intensity[first])}; "
                    "expected a finite number (float32 x y z remission per point)"
                )
        return super().bounds


class SemanticKITTIDataModule(SceneDataModule):
    """SemanticKITTI scans, one scan per scene.

    Args:
        root: the folder holding ``dataset/sequences/`` (or ``sequences/``, or the sequences).
        label_config: the release's ``semantic-kitti.yaml`` (default: ``root``'s or its parent's,
            else the learning map held in this module).
        train_sequences, val_sequences, test_sequences: sequence numbers (default: the release's
            split; test: the validation sequence 08, which has labels).
        **scene options: see :class:`~pointea.data.scenes.SceneDataModule`; here the crop preset
            is ``"lidar"`` (a 20 m block of 4,096 points), the features remission and height.
    """

    check_labels = False  # 23,000 scans: no pass over every label at setup

    def __init__(
        self,
        root: str,
        label_config: str | None = None,
        train_sequences: Sequence[int] | None = None,
        val_sequences: Sequence[int] | None = None,
        test_sequences: Sequence[int] | None = None,
        features: Sequence[str] = ("intensity", "height"),
        crop: CropPreset = "lidar",
        batch_size: int = 8,
        **scene_options: Any,
    ) -> None:
        super().__init__(features=features, crop=crop, batch_size=batch_size, **scene_options)
        self.root = root
        config = Path(label_config).expanduser() if label_config else self._find_config()
        if config is not None:
            learning, names, split = read_label_config(config)
        else:
            learning, names, split = LEARNING_MAP, CLASS_NAMES, STANDARD_SPLIT
        self.label_config = str(config) if config else None
        self._names = list(names)
        self.lookup = np.full(max(learning) + 1, self.ignore_index, dtype=np.int64)  # raw id -> class
        for raw, learned in learning.items():
            if learned > 0:
                self.lookup[raw] = learned - 1
        self.sequences = {
            "train": tuple(split["train"] if train_sequences is None else train_sequences),
            "val": tuple(split["valid"] if val_sequences is None else val_sequences),
            "test": tuple(split["valid"] if test_sequences is None else test_sequences),
        }
        self.save_hyperparameters()

    def _find_config(self) -> Path | None:
        root = Path(self.root).expanduser()
        for folder in (root, root.parent, root.parent.parent):
            if (folder / CONFIG_NAME).is_file():
                return folder / CONFIG_NAME
        return None

    @property
    def class_names(self) -> list[str]:
        return list(self._names)

    def _sequences_folder(self) -> Path:
        root = Path(self.root).expanduser()
        for folder in (root / "dataset" / "sequences", root / "sequences", root):
            if folder.is_dir() and any(
                child.name.isdigit() and (child / "velodyne").is_dir() for child in folder.iterdir()
            ):
                return folder
        raise DataError(
            f"{root}: no SemanticKITTI sequences found (dataset/sequences/NN/velodyne/*.bin)"
        )

    def load_scenes(self, split: Split) -> list[Scene]:
        base = self._sequences_folder()
        scenes = []
        for number in self.sequences[split]:
            folder = base / f"{int(number):02d}"
            if not (folder / "velodyne").is_dir():
                raise DataError(
                    f"{folder}/velodyne: sequence {int(number):02d} of the {split} split not found"
                )
            labelled = (folder / "labels").is_dir()
            if split == "train" and not labelled:
                raise DataError(
                    f"{folder}/labels: training sequence {int(number):02d} has no labels"
                )
            for scan in sorted((folder / "velodyne").glob("*.bin")):
                labels = folder / "labels" / f"{scan.stem}.label"
                if labelled and not labels.is_file():
                    raise DataError(f"{labels}: missing (its scan {scan} is there)")
                scenes.append(
                    read_scan(
                        scan,
                        labels if labelled else None,
                        self.lookup,
                        f"{folder.name}/{scan.stem}",
                    )
                )
        return scenes

    def _where(self) -> str:
        return str(self.root)

    def preprocessing_record(self) -> dict[str, Any]:
        return {**super().preprocessing_record(), "label_config": self.label_config}
