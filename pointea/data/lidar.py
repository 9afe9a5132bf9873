"""Lidar tiles: a folder of LAS/LAZ files, ASPRS classification as labels, served as scenes.

**Class map**: a YAML file of class names in label order, each with the ASPRS codes it takes, and
codes to ignore (the format: :mod:`pointea.data.lidar_tiles`); without one,
:data:`DEFAULT_CLASS_MAP` (ground, vegetation, building, car: the synthetic tiles' classes). A
split whose tiles hold no point of any mapped class is a :class:`~pointea.errors.DataError`
listing the codes found.

**Tiles larger than memory**: each tile is converted once
(:func:`~pointea.data.lidar_tiles.convert_tile`), streamed through laspy's
``chunk_iterator`` (``chunk_points`` at a time), into memory-mapped arrays under
``pointea_cache/lidar/`` (coordinates float32 relative to the tile's lower corner, which
:attr:`Scene.origin` holds in float64; classification, intensity, colour), plus a spatial index
of ``cell`` x ``cell`` metre columns built by a two-pass counting sort, also on disk. A training
crop then reads only the cells around its centre. Memory stays bounded by a chunk and the cell
counts, whatever the tile's size. The cache is reused while the tile keeps its size and time;
conversion is atomic. A whole-tile test batch must fit in memory: a test tile of more than
``max_scene_points`` points is a :class:`~pointea.errors.DataError` naming it.

**Splits**: ``train_files`` / ``val_files`` / ``test_files`` (names relative to ``root``), or,
without them, a seeded hold-out (``val_fraction``, ``test_fraction``). With no validation tile the
test tiles validate.

**Skips**, counted in :attr:`~pointea.data.scenes.SceneDataModule.skipped` and logged: a tile with
no points, a tile with no point of a mapped class (e.g. a file that was never classified, all 0).
Errors, one line naming the file: a file laspy cannot read (a point format it does not know, a
truncated or corrupt file, LAZ without a backend).

Shape legend: N points, R rows in a chunk, X by Y cells.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pointea.data.cache import CACHE_FOLDER, ensure_cache, source_manifest
from pointea.data.crops import CropPreset
from pointea.data.lidar_tiles import (
    CHUNK_POINTS,
    DEFAULT_CLASS_MAP,
    LAS_EXTENSIONS,
    CellIndex,
    ClassMap,
    convert_tile,
    read_tile,
    tile_scene,
)
from pointea.data.scene import Scene
from pointea.data.scenes import SceneDataModule, Split
from pointea.errors import ConfigError, DataError

__all__ = [
    "LidarDataModule",
    # the tile files, from pointea.data.lidar_tiles
    "CHUNK_POINTS",
    "DEFAULT_CLASS_MAP",
    "LAS_EXTENSIONS",
    "CellIndex",
    "ClassMap",
    "convert_tile",
    "read_tile",
]

class LidarDataModule(SceneDataModule):
    """Classified LAS/LAZ tiles in a folder (any depth), ASPRS codes mapped to classes.

    Args:
        root: the folder of ``.las``/``.laz`` files; with ``synthetic=True`` and none there,
            procedural tiles are written there (:mod:`pointea.data.synthetic_scenes`).
        class_map: a YAML class map (module docstring), or None for :data:`DEFAULT_CLASS_MAP`.
        train_files, val_files, test_files: file names relative to ``root``; when
            ``test_files`` is not given, a seeded hold-out of ``test_fraction`` (and
            ``val_fraction``) of the files.
        cache_root: where ``pointea_cache/`` goes (default: ``root``).
        cell: the spatial index's cell size in metres.
        chunk_points: points read per chunk while converting.
        max_scene_points: the most points of a whole test tile (one batch).
        synthetic, synthetic_tiles, synthetic_size, synthetic_density: procedural tiles.
        **scene options: see :class:`~pointea.data.scenes.SceneDataModule`; here the crop preset is
            ``"lidar"`` (a 20 m block of 4,096 points) and the features intensity and height.
    """

    def __init__(
        self,
        root: str,
        class_map: str | None = None,
        train_files: Sequence[str] | None = None,
        val_files: Sequence[str] | None = None,
        test_files: Sequence[str] | None = None,
        val_fraction: float = 0.0,
        test_fraction: float = 0.25,
        cache_root: str | None = None,
        cell: float = 10.0,
        chunk_points: int = CHUNK_POINTS,
        max_scene_points: int = 50_000_000,
        synthetic: bool = False,
        synthetic_tiles: int = 6,
        synthetic_size: float = 60.0,
        synthetic_density: float = 8.0,
        features: Sequence[str] = ("intensity", "height"),
        crop: CropPreset = "lidar",
        **scene_options: Any,
    ) -> None:
        super().__init__(features=features, crop=crop, **scene_options)
        self.class_map = (
            ClassMap.from_yaml(class_map)
            if class_map
            else ClassMap.from_dict(DEFAULT_CLASS_MAP, "default class map")
        )
        for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not (isinstance(value, (int, float)) and 0 <= value < 1):
                raise ConfigError(f"LidarDataModule: {name} must be in [0, 1), got {value!r}")
        if not (isinstance(cell, (int, float)) and 0 < cell < float("inf")):
            raise ConfigError(
                f"LidarDataModule: cell must be a positive number of metres, got {cell!r}"
            )
        for name, value in (
            ("chunk_points", chunk_points),
            ("max_scene_points", max_scene_points),
            ("synthetic_tiles", synthetic_tiles),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(
                    f"LidarDataModule: {name} must be a positive integer, got {value!r}"
                )
        self.root, self.cache_root = root, cache_root
        self.files = {
            split: [names] if isinstance(names, str) else names  # one name, not its characters
            for split, names in (("train", train_files), ("val", val_files), ("test", test_files))
        }
        self.val_fraction, self.test_fraction = float(val_fraction), float(test_fraction)
        self.cell, self.chunk_points, self.max_scene_points = (
            float(cell),
            chunk_points,
            max_scene_points,
        )
        self.synthetic, self.synthetic_tiles = synthetic, synthetic_tiles
        self.synthetic_size, self.synthetic_density = (
            float(synthetic_size),
            float(synthetic_density),
        )
        self._tiles: dict[Path, Scene] = {}
        self.save_hyperparameters()

    @property
    def class_names(self) -> list[str]:
        return list(self.class_map.names)

    def preprocessing_record(self) -> dict[str, Any]:
        """The scene record plus the class map (codes in the map's order), so ``pointea-predict``
        reads a tile as training did and writes each class back as its first ASPRS code."""
        classes = {
            name: [code for code, label in self.class_map.codes.items() if label == index]
            for index, name in enumerate(self.class_map.names)
        }
        return {**super().preprocessing_record(), "class_map": {"classes": classes, "ignore": list(self.class_map.ignore)}}

    def tile_paths(self) -> list[Path]:
        """Every ``.las``/``.laz`` file under ``root`` (sorted; the cache folder excluded)."""
        root = Path(self.root).expanduser()
        return sorted(
            p
            for p in root.rglob("*")
            if p.suffix.lower() in LAS_EXTENSIONS and p.is_file() and CACHE_FOLDER not in p.parts
        )

    def prepare_data(self) -> None:
        """Write the procedural tiles when asked for and none are there, and convert every tile of
        the splits once (on one process under DDP; the others then find the caches current)."""
        self._write_synthetic()
        for path in sorted({p for paths in self.split_paths().values() for p in paths}):
            self._tile(path)

    def _write_synthetic(self) -> None:
        if self.synthetic and not self.tile_paths():
            from pointea.data.synthetic_scenes import write_synthetic_tiles

            write_synthetic_tiles(
                self.root,
                self.seed,
                self.synthetic_tiles,
                self.synthetic_size,
                self.synthetic_density,
            )

    def split_paths(self) -> dict[str, list[Path]]:
        """The files of each split (module docstring)."""
        root = Path(self.root).expanduser()
        every = self.tile_paths()
        if not every and self.synthetic:
            self._write_synthetic()
            every = self.tile_paths()
        if not every:
            raise DataError(
                f"{root}: no .las or .laz file found (pass synthetic=True for procedural tiles)"
            )
        named = {}
        for split, names in self.files.items():
            if names is not None:
                paths = [root / name for name in names]
                for path in paths:
                    if not path.is_file():
                        raise DataError(f"{path}: listed in {split}_files but not found")
                named[split] = paths
        if "test" not in named:
            rest = [p for p in every if p not in {q for v in named.values() for q in v}]
            shuffled = [rest[i] for i in np.random.default_rng(self.seed).permutation(len(rest))]
            n_test = (
                max(1, round(self.test_fraction * len(shuffled))) if self.test_fraction > 0 else 0
            )
            named["test"] = shuffled[:n_test]
            if "val" not in named:
                n_val = round(self.val_fraction * len(shuffled))
                named["val"] = shuffled[n_test : n_test + n_val]
            named.setdefault("train", shuffled[n_test + len(named["val"]) :])
        named.setdefault("val", [])
        named.setdefault(
            "train", [p for p in every if p not in set(named["test"]) | set(named["val"])]
        )
        if not named["val"]:
            named["val"] = named["test"]
        return named

    def _tile(self, path: Path) -> Scene:
        if path not in self._tiles:
            root = Path(self.root).expanduser()
            relative = path.relative_to(root) if path.is_relative_to(root) else Path(path.name)
            cache = (
                Path(self.cache_root or self.root).expanduser()
                / CACHE_FOLDER
                / "lidar"
                / "__".join(relative.parts)
            )
            # format 2: the origin is the points' own corner when the header's bounds are wrong
            manifest = source_manifest(path.parent, [path], {"cell": self.cell, "format": 2})
            ensure_cache(
                cache,
                manifest,
                lambda out: convert_tile(path, out, self.cell, self.chunk_points),
                str(path),
            )
            self._tiles[path] = tile_scene(
                cache, relative.as_posix(), path, self.class_map.lookup(self.ignore_index)
            )
        return self._tiles[path]

    def load_scenes(self, split: Split) -> list[Scene]:
        paths = self.split_paths()[split]
        if not paths:
            raise DataError(
                f"{self.root}: the {split} split has no tile (set {split}_files or the hold-out fractions)"
            )
        from tqdm import tqdm

        scenes = [
            self._tile(path)
            for path in tqdm(paths, desc=f"lidar tiles ({split})", unit="tile", disable=None)
        ]
        if split == "test":
            for scene in scenes:
                if len(scene) > self.max_scene_points:
                    raise DataError(
                        f"{scene.path}: {len(scene)} points, more than max_scene_points={self.max_scene_points} "
                        "for one whole-tile test batch; raise it if memory allows, or split the tile"
                    )
        return scenes

    def _unusable(self, scene: Scene, split: Split) -> str | None:
        if len(scene) and scene.labels is None:
            return "no classification field"
        return super()._unusable(scene, split)

    def _no_usable(self, split: Split) -> str:
        counts = np.zeros(256, dtype=np.int64)  # ASPRS codes, counted chunk by chunk
        for path in self.split_paths()[split]:
            scene = self._tile(path)
            for start in range(0, len(scene) if scene.labels is not None else 0, self.chunk_points):
                counts += np.bincount(
                    scene.labels[start : start + self.chunk_points], minlength=256
                )
        codes = np.flatnonzero(counts).tolist()
        return (
            f"the class map ({self.class_map.source}) maps none of the codes found: {sorted(codes)}"
        )
