"""S3DIS (Stanford Large-Scale 3D Indoor Spaces): 13-class semantic segmentation of whole rooms.

Three layouts, as people download them (``layout="auto"`` takes the first found, in this order):

- ``"pointcept"``: Pointcept's preprocessed rooms, ``Area_N/<room>/coord.npy`` (float32 (N, 3)),
  ``color.npy`` (uint8 (N, 3)), ``segment.npy`` (int (N,) or (N, 1)); read memory-mapped, as is.
  The procedural rooms (``synthetic=True``, :mod:`pointea.data.synthetic_scenes`) are written in
  this layout.
- ``"raw"``: the release, ``Stanford3dDataset_v1.2_Aligned_Version/Area_N/<room>/Annotations/
  <class>_<k>.txt`` (lines ``x y z r g b``). A class name outside the 13 (``stairs``) is clutter
  (as PointNet maps it; noted in the report). Converted once, room by room, into the Pointcept layout under
  ``pointea_cache/s3dis_raw/`` (atomic per room, a progress bar, reused while the room's
  annotation files keep their sizes and times), then memory-mapped.
- ``"hdf5"``: PointNet's ``indoor3d_sem_seg_hdf5_data/`` (``ply_data_all_K.h5`` with ``data``
  (B, 4096, 9) and ``label`` (B, 4096), ``all_files.txt``, ``room_filelist.txt``). Its blocks are
  PointNet's resampled 1 m x 1 m blocks, not the rooms' points; each room is reassembled from
  its blocks (coordinates from the normalised room coordinates, columns 6-8, times the room's
  extent, which the block-centred columns 0-2 give exactly) and converted once into the
  Pointcept layout under ``pointea_cache/s3dis_hdf5/``. A room so served holds PointNet's
  samples (with their repeats), so its scores are PointNet's block protocol, not full resolution.

Bad lines in the raw text (``bad_lines``): the release has stray control characters inside
numbers (``103.0\\x100000`` in ``Area_5/office_19/Annotations/ceiling_1.txt``, one in
``Area_5/hallway_6``). A line that parses once such characters are removed is *repaired*; any
other line that is not six numbers (truncated, garbage) is *skipped* with ``bad_lines="skip"``
(the default) or a :class:`~pointea.errors.DataError` naming the file and line with
``bad_lines="error"``. An empty annotation file is skipped. Every repair and skip is logged (a
warning naming the file and line), counted, and kept in the cache's ``report.json`` and in
:attr:`S3DISDataModule.report`.

Split: rooms of ``test_area`` (5 by default, the customary protocol) are the test split (and the
validation split: S3DIS has none); the other areas train. 6-fold cross-validation is six runs
with ``test_area`` 1 to 6 (:func:`six_fold`), the scores averaged.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pointea.data.cache import CACHE_FOLDER, ensure_cache, source_manifest
from pointea.data.scene import Scene
from pointea.data.scenes import SceneDataModule, Split
from pointea.errors import ConfigError, DataError

__all__ = [
    "S3DIS_CLASSES",
    "S3DIS_LAYOUTS",
    "S3DISDataModule",
    "annotation_class",
    "read_annotation",
    "read_pointcept_room",
    "find_s3dis_layout",
    "six_fold",
]

#: S3DIS's 13 classes in PointNet's ``class_names.txt`` order (label = position).
S3DIS_CLASSES: tuple[str, ...] = (
    "ceiling", "floor", "wall", "beam", "column", "window", "door",
    "table", "chair", "sofa", "bookcase", "board", "clutter",
)  # fmt: skip
CLUTTER = S3DIS_CLASSES.index("clutter")
S3DISLayout = Literal["auto", "raw", "hdf5", "pointcept"]
S3DIS_LAYOUTS: tuple[str, ...] = ("auto", "raw", "hdf5", "pointcept")
RAW_FOLDER = "Stanford3dDataset_v1.2_Aligned_Version"
HDF5_FOLDER = "indoor3d_sem_seg_hdf5_data"
AREAS = (1, 2, 3, 4, 5, 6)
_AREA = re.compile(r"^Area_([1-9][0-9]*)$")
#: Bytes that cannot be part of a line of numbers: the release's stray control characters.
_STRAY = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NOT_NUMERIC = re.compile(rb"[^0-9eE+\-. \t\r\n]")

log = logging.getLogger(__name__)


def six_fold() -> list[tuple[tuple[int, ...], int]]:
    """The six (train areas, test area) pairs of S3DIS's 6-fold cross-validation."""
    return [(tuple(a for a in AREAS if a != test), test) for test in AREAS]


def annotation_class(path: Path) -> int:
    """The class of an annotation file ``<class>_<k>.txt``; a name outside the 13 is clutter."""
    name = path.stem.rsplit("_", 1)[0] if "_" in path.stem else path.stem
    return S3DIS_CLASSES.index(name) if name in S3DIS_CLASSES else CLUTTER


def read_annotation(
    path: Path, bad_lines: Literal["skip", "error"] = "skip"
) -> tuple[np.ndarray, list[str]]:
    """The ``x y z r g b`` rows of one annotation file, and a note per repaired or skipped line.

    Shapes:
        returns rows (P, 6) float64
    """
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read this annotation file ({error})") from None
    if not data.strip():
        return np.empty((0, 6)), [f"{path}: empty annotation file, skipped"]
    if not _NOT_NUMERIC.search(data):  # the fast path: numbers only, NumPy's C parser
        try:
            rows = np.loadtxt(io.BytesIO(data), dtype=np.float64, ndmin=2)  # (P, 6)
        except ValueError:  # a short or long line: the slow path names it
            rows = None
        if rows is not None and rows.shape[1] == 6 and np.isfinite(rows).all():
            return rows, []
    return _read_annotation_lines(path, data, bad_lines)


def _read_annotation_lines(path: Path, data: bytes, bad_lines: str) -> tuple[np.ndarray, list[str]]:
    """The slow path: line by line, repairing stray characters, skipping or refusing bad lines."""
    rows, notes = [], []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        fields = _numbers(line)
        note = None
        if fields is None:
            repaired = _numbers(_STRAY.sub(b"", line))
            if repaired is not None:
                fields, note = (
                    repaired,
                    f"{path}:{number}: stray characters removed ({line[:60]!r})",
                )
        if fields is None:
            if bad_lines == "error":
                raise DataError(
                    f"{path}:{number}: expected six numbers (x y z r g b), got {line[:60]!r}"
                )
            note = f"{path}:{number}: not six numbers (x y z r g b), skipped ({line[:60]!r})"
        else:
            rows.append(fields)
        if note is not None:
            notes.append(note)
    return (np.array(rows, dtype=np.float64).reshape(-1, 6), notes)


def _numbers(line: bytes) -> list[float] | None:
    parts = line.split()
    if len(parts) != 6:
        return None
    try:
        values = [float(part) for part in parts]
    except ValueError:
        return None
    return values if all(np.isfinite(values)) else None


def _save(folder: Path, coord: np.ndarray, color: np.ndarray, segment: np.ndarray) -> None:
    for name, array in (("coord", coord), ("color", color), ("segment", segment)):
        np.save(folder / f"{name}.npy", array)


def convert_raw_room(
    room: Path, out: Path, bad_lines: Literal["skip", "error"] = "skip"
) -> list[str]:
    """Write one raw room (``room/Annotations/*.txt``) in the Pointcept layout into ``out``, with
    ``report.json`` (the notes, points per file); returns the notes."""
    notes, pieces, points_per_file = [], [], {}
    for path in sorted((room / "Annotations").glob("*.txt")):
        rows, file_notes = read_annotation(path, bad_lines)
        notes += file_notes
        points_per_file[path.name] = int(rows.shape[0])
        name = path.stem.rsplit("_", 1)[0]
        if name not in S3DIS_CLASSES and rows.shape[0]:
            notes.append(f"{path}: class {name!r} is not one of S3DIS's 13; read as clutter")
        if rows.shape[0]:
            pieces.append((rows, annotation_class(path)))
    rows = np.concatenate([r for r, _ in pieces]) if pieces else np.empty((0, 6))  # (N, 6)
    labels = (
        np.concatenate([np.full(r.shape[0], c, np.int16) for r, c in pieces])
        if pieces
        else np.empty(0, np.int16)
    )
    if rows.shape[0] and ((rows[:, 3:] < 0) | (rows[:, 3:] > 255)).any():
        raise DataError(f"{room}: colours outside 0..255 in its annotation files")
    _save(out, rows[:, :3].astype(np.float32), rows[:, 3:].astype(np.uint8), labels)
    (out / "report.json").write_text(json.dumps({"notes": notes, "points": points_per_file}))
    return notes


def read_pointcept_room(folder: Path, name: str) -> Scene:
    """One room in the Pointcept layout, memory-mapped; every array checked against the others.

    Shapes:
        coord (N, 3) float, color (N, 3) 0..255, segment (N,) or (N, 1) int in -1..12
    """
    arrays = {}
    for key in ("coord", "color", "segment"):
        path = folder / f"{key}.npy"
        if not path.is_file():
            raise DataError(
                f"{path}: missing (a Pointcept-layout room holds coord.npy, color.npy, segment.npy)"
            )
        try:
            arrays[key] = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise DataError(f"{path}: not a readable .npy file ({error})") from None
    coord, color, segment = arrays["coord"], arrays["color"], arrays["segment"]
    if segment.ndim == 2 and segment.shape[1] == 1:
        segment = segment[:, 0]  # (N, 1) -> (N,)
    for key, array, width in (("coord", coord, 3), ("color", color, 3)):
        if array.ndim != 2 or array.shape[1] != width or array.dtype.kind not in "fiu":
            raise DataError(
                f"{folder / key}.npy: shape {array.shape} {array.dtype}, expected (N, {width}) numbers"
            )
    if segment.ndim != 1 or segment.dtype.kind not in "iu":
        raise DataError(
            f"{folder}/segment.npy: shape {segment.shape} {segment.dtype}, expected (N,) integers"
        )
    if not coord.shape[0] == color.shape[0] == segment.shape[0]:
        raise DataError(
            f"{folder}: coord.npy has {coord.shape[0]} points, color.npy {color.shape[0]}, "
            f"segment.npy {segment.shape[0]}; expected the same count"
        )
    if segment.shape[0] and (int(segment.min()) < -1 or int(segment.max()) >= len(S3DIS_CLASSES)):
        raise DataError(
            f"{folder}/segment.npy: labels {int(segment.min())}..{int(segment.max())}, expected "
            f"-1..{len(S3DIS_CLASSES) - 1} (S3DIS's 13 classes, -1 unlabelled)"
        )
    if color.dtype.kind == "f" and color.shape[0] and not np.isfinite(color).all():
        first = int(np.flatnonzero(~np.isfinite(color).all(axis=1))[0])
        raise DataError(
            f"{folder}/color.npy: row {first} is {color[first].tolist()}; expected finite colours"
        )
    lookup = None
    if segment.shape[0] and int(segment.min()) < 0:  # -1 unlabelled -> the module's ignore_index
        lookup = np.arange(len(S3DIS_CLASSES))
    color_scale = (
        1.0 if color.dtype.kind == "f" and color.shape[0] and float(color.max()) <= 1.0 else 255.0
    )
    return Scene(name, folder, coord, segment, colors=color, color_scale=color_scale, lookup=lookup)


def _area_folders(base: Path) -> dict[int, Path]:
    found = {}
    if base.is_dir():
        for child in base.iterdir():
            match = _AREA.match(child.name)
            if match and child.is_dir():
                found[int(match.group(1))] = child
    return found


def find_s3dis_layout(root: str | Path, layout: str = "auto") -> tuple[str, Path] | None:
    """The layout found under ``root`` and its base folder (or None); a bad ``layout`` is a
    :class:`ConfigError`."""
    if layout not in S3DIS_LAYOUTS:
        raise ConfigError(f"S3DIS layout must be one of {', '.join(S3DIS_LAYOUTS)}, got {layout!r}")
    root = Path(root).expanduser()
    checks = {
        "pointcept": lambda base: any(
            any(area.glob("*/coord.npy")) for area in _area_folders(base).values()
        ),
        "raw": lambda base: any(
            any(area.glob("*/Annotations")) for area in _area_folders(base).values()
        ),
        "hdf5": lambda base: (base / "room_filelist.txt").is_file(),
    }
    bases = {
        "pointcept": (root, root / "s3dis"),
        "raw": (root, root / RAW_FOLDER),
        "hdf5": (root, root / HDF5_FOLDER),
    }
    for name in ("pointcept", "raw", "hdf5") if layout == "auto" else (layout,):
        for base in bases[name]:
            if checks[name](base):
                return name, base
    return None


def _hdf5_blocks(base: Path) -> dict[str, list[tuple[Path, int]]]:
    """Room name (``Area_1/office_3``) -> its blocks (file, row), from the HDF5 layout's lists."""
    listing = base / "all_files.txt"
    files = (
        [
            base / Path(line.strip()).name
            for line in listing.read_text().splitlines()
            if line.strip()
        ]
        if listing.is_file()
        else sorted(
            base.glob("ply_data_all_*.h5"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0)
        )
    )
    rooms_listed = [
        line.strip()
        for line in (base / "room_filelist.txt").read_text().splitlines()
        if line.strip()
    ]
    from pointea.data.storage import read_h5

    blocks: dict[str, list[tuple[Path, int]]] = {}
    position = 0
    for path in files:
        import h5py

        try:
            with h5py.File(path, "r") as handle:
                count = int(handle["label"].shape[0])
        except (OSError, KeyError) as error:
            read_h5(path, ("data", "label"))  # raises the one-line DataError naming the file
            raise DataError(f"{path}: cannot read this HDF5 file ({error})") from None
        for row in range(count):
            if position >= len(rooms_listed):
                raise DataError(
                    f"{base / 'room_filelist.txt'}: lists {len(rooms_listed)} blocks, the .h5 files hold more"
                )
            match = re.match(r"^Area_(\d+)_(.+)$", rooms_listed[position])
            if match is None:
                raise DataError(
                    f"{base / 'room_filelist.txt'}:{position + 1}: expected Area_N_<room>, got {rooms_listed[position]!r}"
                )
            blocks.setdefault(f"Area_{match.group(1)}/{match.group(2)}", []).append((path, row))
            position += 1
    if position != len(rooms_listed):
        raise DataError(
            f"{base / 'room_filelist.txt'}: lists {len(rooms_listed)} blocks, the .h5 files hold {position}"
        )
    return blocks


def convert_hdf5_room(blocks: Sequence[tuple[Path, int]], out: Path) -> list[str]:
    """Reassemble one room from PointNet's blocks into the Pointcept layout in ``out``.

    A block's columns 0-2 are x, y relative to the block's centre and z; columns 6-8 are the
    room-normalised coordinates p / room extent. Within a block x - x_centre = extent_x * col6 -
    x_centre, so the slope of col0 against col6 is the room's x extent (likewise y); z's is
    col2 / col8. The room is extent * (col6, col7, col8).
    """
    from pointea.data.storage import read_h5

    by_file: dict[Path, list[int]] = {}
    for path, row in blocks:
        by_file.setdefault(path, []).append(row)
    data, labels = [], []
    for path, rows in by_file.items():
        arrays = read_h5(path, ("data", "label"))
        if arrays["data"].ndim != 3 or arrays["data"].shape[2] < 9:
            raise DataError(
                f"{path}: 'data' has shape {arrays['data'].shape}, expected (B, 4096, 9)"
            )
        data.append(arrays["data"][rows].astype(np.float64))  # (b, P, 9)
        labels.append(arrays["label"][rows].astype(np.int64))  # (b, P)
    blocks_data, block_labels = np.concatenate(data), np.concatenate(labels)
    extent = np.zeros(3)
    for axis in (0, 1):
        slopes = []
        for block in blocks_data:
            normal = block[:, 6 + axis] - block[:, 6 + axis].mean()
            if float((normal**2).sum()) > 1e-12:
                slopes.append(
                    float(
                        (normal * (block[:, axis] - block[:, axis].mean())).sum()
                        / (normal**2).sum()
                    )
                )
        extent[axis] = float(np.median(slopes)) if slopes else 1.0
    z, zn = blocks_data[..., 2].ravel(), blocks_data[..., 8].ravel()
    extent[2] = float((z * zn).sum() / max((zn * zn).sum(), 1e-12))
    points = blocks_data[..., 6:9].reshape(-1, 3) * extent  # (b P, 3)
    colors = np.clip(np.rint(blocks_data[..., 3:6].reshape(-1, 3) * 255), 0, 255)
    segment = block_labels.reshape(-1)
    if segment.size and (segment.min() < 0 or segment.max() >= len(S3DIS_CLASSES)):
        raise DataError(f"{blocks[0][0]}: labels outside 0..12 in the blocks of one room")
    _save(out, points.astype(np.float32), colors.astype(np.uint8), segment.astype(np.int16))
    (out / "report.json").write_text(json.dumps({"notes": [], "blocks": len(blocks)}))
    return []


class S3DISDataModule(SceneDataModule):
    """S3DIS rooms (any of the three layouts, or procedural rooms in the same 13 classes).

    Args:
        root: the folder holding a layout (or ``Stanford3dDataset_v1.2_Aligned_Version/``,
            ``indoor3d_sem_seg_hdf5_data/``, ``s3dis/``); with ``synthetic=True`` and no data
            there, procedural rooms are written there on first use.
        layout: ``"auto"``, ``"pointcept"``, ``"raw"`` or ``"hdf5"`` (module docstring).
        test_area: the area held out for test (and validation), 1..6.
        train_areas: the training areas (default: every other area found).
        cache_root: where ``pointea_cache/`` goes for the raw and HDF5 layouts (default: ``root``).
        bad_lines: ``"skip"`` or ``"error"`` for bad lines of the raw text.
        synthetic: write procedural rooms when ``root`` holds no layout.
        synthetic_rooms_per_area: procedural rooms per area (areas 1..6).
        synthetic_density: surface points per square metre of procedural rooms.
        **scene options: see :class:`~pointea.data.scenes.SceneDataModule` (features, crop, ...).

    Shapes:
        training batch["points"]: (B, K, 3); test batch["points"]: (1, N, 3) one whole room;
        batch["features"]: (B, N, C); batch["labels"]: (B, N) int64; batch["index"]: (B,)
    """

    def __init__(
        self,
        root: str,
        layout: S3DISLayout = "auto",
        test_area: int = 5,
        train_areas: Sequence[int] | None = None,
        cache_root: str | None = None,
        bad_lines: Literal["skip", "error"] = "skip",
        synthetic: bool = False,
        synthetic_rooms_per_area: int = 2,
        synthetic_density: float = 400.0,
        **scene_options: Any,
    ) -> None:
        super().__init__(**scene_options)
        if isinstance(test_area, bool) or not isinstance(test_area, int) or test_area < 1:
            raise ConfigError(
                f"S3DISDataModule: test_area must be an area number (1..6), got {test_area!r}"
            )
        if train_areas is not None and test_area in train_areas:
            raise ConfigError(
                f"S3DISDataModule: test_area {test_area} is also in train_areas {list(train_areas)}"
            )
        if bad_lines not in ("skip", "error"):
            raise ConfigError(
                f"S3DISDataModule: bad_lines must be 'skip' or 'error', got {bad_lines!r}"
            )
        if (
            isinstance(synthetic_rooms_per_area, bool)
            or not isinstance(synthetic_rooms_per_area, int)
            or not 1 <= synthetic_rooms_per_area <= 1000
        ):
            raise ConfigError(
                f"S3DISDataModule: synthetic_rooms_per_area must be an integer in 1..1000, got {synthetic_rooms_per_area!r}"
            )
        if not (isinstance(synthetic_density, (int, float)) and 1 <= synthetic_density <= 100_000):
            raise ConfigError(
                f"S3DISDataModule: synthetic_density must be in 1..100000 points per m^2, got {synthetic_density!r}"
            )
        self.root, self.layout, self.test_area = root, layout, test_area
        self.train_areas = None if train_areas is None else tuple(train_areas)
        self.cache_root, self.bad_lines = cache_root, bad_lines
        self.synthetic, self.synthetic_rooms_per_area = synthetic, synthetic_rooms_per_area
        self.synthetic_density = float(synthetic_density)
        find_s3dis_layout(root, layout)  # an unknown layout fails here, with the argument named
        #: Every repaired or skipped line and skipped file of the raw text: one note each.
        self.report: list[str] = []
        self._rooms: dict[int, list[Scene]] | None = None
        self.save_hyperparameters()

    @property
    def class_names(self) -> list[str]:
        return list(S3DIS_CLASSES)

    def prepare_data(self) -> None:
        writable = self.layout in (
            "auto",
            "pointcept",
        )  # procedural rooms are Pointcept-layout rooms
        if self.synthetic and writable and find_s3dis_layout(self.root, self.layout) is None:
            from pointea.data.synthetic_scenes import RoomSettings, write_synthetic_rooms

            write_synthetic_rooms(self.root, self.seed, self.synthetic_rooms_per_area,
                                  settings=RoomSettings(density=self.synthetic_density))  # fmt: skip
        self._all_rooms()

    def _all_rooms(self) -> dict[int, list[Scene]]:
        """Area -> its rooms (converted once for the raw and HDF5 layouts)."""
        if self._rooms is not None:
            return self._rooms
        found = find_s3dis_layout(self.root, self.layout)
        if found is None:
            if self.synthetic:
                self.prepare_data()
                found = find_s3dis_layout(self.root, self.layout)
            if found is None:
                what = "S3DIS layout" if self.layout == "auto" else f"{self.layout!r} S3DIS layout"
                raise DataError(
                    f"{self.root}: no {what} found (Area_N/<room>/coord.npy, {RAW_FOLDER}/Area_N/<room>/"
                    f"Annotations/, or {HDF5_FOLDER}/room_filelist.txt); pass synthetic=True for procedural rooms"
                )
        layout, base = found
        cache = Path(self.cache_root or self.root).expanduser() / CACHE_FOLDER
        rooms: dict[int, list[Scene]] = {}
        if layout == "pointcept":
            for area, folder in sorted(_area_folders(base).items()):
                for room in sorted(p for p in folder.iterdir() if (p / "coord.npy").is_file()):
                    rooms.setdefault(area, []).append(
                        read_pointcept_room(room, f"{folder.name}/{room.name}")
                    )
        elif layout == "raw":
            rooms = self._raw_rooms(base, cache / "s3dis_raw")
        else:
            rooms = self._hdf5_rooms(base, cache / "s3dis_hdf5")
        self._rooms = rooms
        return rooms

    def _raw_rooms(self, base: Path, cache: Path) -> dict[int, list[Scene]]:
        from tqdm import (
            tqdm,
        )  # Lightning's dependency; imported here to keep `import pointea` light

        todo = [(area, room) for area, folder in sorted(_area_folders(base).items())
                for room in sorted(folder.iterdir()) if (room / "Annotations").is_dir()]  # fmt: skip
        rooms: dict[int, list[Scene]] = {}
        for area, room in tqdm(todo, desc="S3DIS raw rooms", unit="room", disable=None):
            files = sorted((room / "Annotations").glob("*.txt"))
            manifest = source_manifest(
                base, files, {"bad_lines": self.bad_lines, "room": room.name}
            )
            out = cache / f"Area_{area}" / room.name
            ensure_cache(
                out,
                manifest,
                lambda folder, room=room: convert_raw_room(room, folder, self.bad_lines),
                str(room),
            )
            notes = json.loads((out / "report.json").read_text())["notes"]
            for note in notes:
                log.warning("%s", note)
            self.report += notes
            rooms.setdefault(area, []).append(read_pointcept_room(out, f"Area_{area}/{room.name}"))
        return rooms

    def _hdf5_rooms(self, base: Path, cache: Path) -> dict[int, list[Scene]]:
        from tqdm import tqdm

        blocks = _hdf5_blocks(base)
        files = sorted({path for room in blocks.values() for path, _ in room})
        rooms: dict[int, list[Scene]] = {}
        for name, room_blocks in tqdm(
            sorted(blocks.items()), desc="S3DIS HDF5 rooms", unit="room", disable=None
        ):
            area = int(name.split("/")[0].split("_")[1])
            manifest = source_manifest(base, [*files, base / "room_filelist.txt"], {"room": name})
            out = cache / name
            ensure_cache(
                out, manifest, lambda folder, b=room_blocks: convert_hdf5_room(b, folder), name
            )
            rooms.setdefault(area, []).append(read_pointcept_room(out, name))
        return rooms

    def load_scenes(self, split: Split) -> list[Scene]:
        rooms = self._all_rooms()
        if split in ("val", "test"):
            if self.test_area not in rooms:
                raise DataError(
                    f"{self.root}: the {split} split (test_area={self.test_area}) has no rooms; areas found: "
                    f"{', '.join(map(str, sorted(rooms))) or 'none'}"
                )
            return rooms[self.test_area]
        train = self.train_areas or tuple(a for a in sorted(rooms) if a != self.test_area)
        missing = [a for a in train if a not in rooms]
        if missing or not train:
            raise DataError(
                f"{self.root}: the train split has no rooms in area(s) {missing or list(train)}; areas found: "
                f"{', '.join(map(str, sorted(rooms))) or 'none'}"
            )
        return [scene for area in train for scene in rooms[area]]

    def _where(self) -> str:
        return str(self.root)
