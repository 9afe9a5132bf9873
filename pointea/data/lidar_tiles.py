"""Lidar tile files: ASPRS class maps, and LAS/LAZ tiles read as scenes (whole, or converted once).

**Class map** (:class:`ClassMap`, from YAML): class names in label order, each with the ASPRS
codes it takes (several codes merge into one class; the name renames it), and codes to ignore::

    classes:
      ground: [2]
      vegetation: [3, 4, 5]
      building: 6
    ignore: [0, 1, 7, 18]      # never classified, unclassified, low and high noise

A code neither mapped nor ignored is ignored too (its points get ``ignore_index``); a map with no
class is refused. Without a map, :data:`DEFAULT_CLASS_MAP` (ground, vegetation, building, car: the
synthetic tiles' classes).

**Tiles larger than memory** (:func:`convert_tile`): a tile is streamed through laspy's
``chunk_iterator`` (``chunk_points`` at a time) into memory-mapped arrays (coordinates float32
relative to the header's lower corner, which :attr:`Scene.origin` holds in float64;
classification, intensity, colour), plus a spatial index of ``cell`` x ``cell`` metre columns
(:class:`CellIndex`) built by a counting sort, also on disk. A training crop then reads only the
cells around its centre; memory stays bounded by a chunk and the cell counts, whatever the tile's
size. :func:`read_tile` reads a file whole instead (prediction on one file).

Errors, one line naming the file: a file laspy cannot read (a point format it does not know, a
truncated or corrupt file, LAZ without a backend). This module needs NumPy, torch and laspy only
(no Lightning); :mod:`pointea.data.lidar` serves the tiles.

Shape legend: N points, R rows in a chunk, X by Y cells.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pointea.data.scene import Scene
from pointea.errors import ConfigError, DataError

__all__ = [
    "CHUNK_POINTS",
    "DEFAULT_CLASS_MAP",
    "HEADER_SLACK",
    "LAS_EXTENSIONS",
    "MAX_CELLS",
    "CellIndex",
    "ClassMap",
    "convert_tile",
    "read_tile",
    "tile_scene",
]

LAS_EXTENSIONS = (".las", ".laz")
#: Points read per laspy chunk.
CHUNK_POINTS = 1_000_000
#: The map used without a YAML file: the synthetic tiles' classes (64: their cars).
DEFAULT_CLASS_MAP: dict[str, Any] = {
    "classes": {"ground": [2], "vegetation": [3, 4, 5], "building": [6], "car": [64]},
    "ignore": [0, 1, 7, 18],
}


class ClassMap:
    """ASPRS codes (0..255) to class ids; see the module docstring for the YAML form.

    Args:
        classes: class name -> its code or codes, in label order.
        ignore: codes whose points are ignored.
        source: where the map came from, for messages.
    """

    def __init__(
        self,
        classes: Mapping[str, int | Sequence[int]],
        ignore: Sequence[int] = (),
        source: str = "class map",
    ) -> None:
        if not isinstance(classes, Mapping) or not classes:
            raise ConfigError(
                f"{source}: maps no class; expected 'classes:' with at least one name: [codes]"
            )
        owner: dict[int, str] = {}
        self.names: list[str] = []
        for name, codes in classes.items():
            codes = [codes] if isinstance(codes, int) else codes
            if isinstance(codes, (str, bytes)) or not isinstance(codes, Sequence) or not codes:
                raise ConfigError(
                    f"{source}: class {name!r} has no code ({codes!r}); expected a code or a list of codes"
                )
            if str(name) in self.names:
                raise ConfigError(f"{source}: class name {str(name)!r} is given twice")
            for code in codes:
                if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
                    raise ConfigError(
                        f"{source}: class {name!r}: code {code!r} is not an ASPRS code 0..255"
                    )
                if code in owner:
                    raise ConfigError(
                        f"{source}: code {code} is given twice for class {name!r}"
                        if owner[code] == str(name)
                        else f"{source}: code {code} is mapped to both {owner[code]!r} and {name!r}"
                    )
                owner[code] = str(name)
            self.names.append(str(name))
        ignore = [ignore] if isinstance(ignore, int) and not isinstance(ignore, bool) else ignore
        if isinstance(ignore, (str, bytes)) or not isinstance(ignore, Sequence):
            raise ConfigError(f"{source}: 'ignore' must be a code or a list of codes 0..255, got {ignore!r}")
        for code in ignore:
            if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
                raise ConfigError(f"{source}: ignored code {code!r} is not an ASPRS code 0..255")
            if code in owner:
                raise ConfigError(
                    f"{source}: code {code} is both ignored and mapped to {owner[code]!r}"
                )
        self.codes = {code: self.names.index(name) for code, name in owner.items()}
        self.ignore, self.source = tuple(ignore), source

    @classmethod
    def from_yaml(cls, path: str | Path) -> ClassMap:
        import yaml

        path = Path(path).expanduser()
        try:
            content = _load_unique_keys(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise ConfigError(f"{path}: cannot read the class map ({error.strerror or error})") from None
        except UnicodeDecodeError as error:
            raise ConfigError(
                f"{path}: not a YAML class map (not UTF-8 text: {error.reason} at byte {error.start})"
            ) from None
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            what = getattr(error, "problem", None) or str(error).splitlines()[0]
            raise ConfigError(f"{path}: not a YAML class map ({where}{what})") from None
        return cls.from_dict(content, str(path))

    @classmethod
    def from_dict(cls, content: Any, source: str = "class map") -> ClassMap:
        if not isinstance(content, Mapping):
            raise ConfigError(
                f"{source}: expected a mapping with 'classes' (and 'ignore'), got {type(content).__name__}"
            )
        unknown = set(content) - {"classes", "ignore"}
        if unknown:
            raise ConfigError(
                f"{source}: unknown key(s) {sorted(map(str, unknown))}; expected 'classes' and 'ignore'"
            )
        classes = content.get("classes")
        if classes is not None and not isinstance(classes, Mapping):
            raise ConfigError(
                f"{source}: 'classes' must map class names to codes (name: [codes]), got {type(classes).__name__}"
            )
        ignore = content.get("ignore")
        return cls(classes or {}, () if ignore is None else ignore, source)

    def lookup(self, ignore_index: int) -> np.ndarray:
        """Code -> class id, ``ignore_index`` for ignored and unmapped codes.  Shapes: (256,)."""
        table = np.full(256, ignore_index, dtype=np.int64)
        for code, label in self.codes.items():
            table[code] = label
        return table


def _load_unique_keys(text: str) -> Any:
    """YAML like ``yaml.safe_load``, refusing a key given twice in one mapping (PyYAML keeps the
    last silently: a class named twice would lose the codes of its first entry)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key!r} given twice", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)

    return yaml.load(text, Loader=UniqueKeyLoader)


class CellIndex:
    """The points of a tile grouped by ``cell``-metre columns: ``order[start[k]:start[k + 1]]``
    are the points of cell k = ix * Y + iy (the crops' :class:`~pointea.data.crops.Candidates`).

    Shapes:
        order (N,) int32 (int64 past 2^31 points); start (X Y + 1,) int64; lower (3,) float32
    """

    def __init__(
        self,
        order: np.ndarray,
        start: np.ndarray,
        lower: np.ndarray,
        cell: float,
        shape: tuple[int, int],
    ) -> None:
        self.order, self.start, self.lower, self.cell, self.shape = order, start, lower, cell, shape

    def __call__(self, centre: np.ndarray, reach: float) -> np.ndarray:
        nx, ny = self.shape
        low = np.floor((centre[:2] - reach - self.lower[:2]) / self.cell).astype(int)
        high = np.floor((centre[:2] + reach - self.lower[:2]) / self.cell).astype(int)
        (x0, y0), (x1, y1) = np.clip(low, 0, [nx - 1, ny - 1]), np.clip(high, 0, [nx - 1, ny - 1])
        pieces = [
            self.order[self.start[ix * ny + y0] : self.start[ix * ny + y1 + 1]]
            for ix in range(x0, x1 + 1)
        ]
        return (
            np.sort(np.concatenate(pieces)).astype(np.int64)
            if pieces
            else np.empty(0, dtype=np.int64)
        )


def _laspy_error(path: Path, error: Exception) -> DataError:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    return DataError(f"{path}: not a readable {path.suffix} file ({message})")


def _detail(error: BaseException) -> str:
    """An error's first line, after the name of its type when that is not a builtin one (LazrsError)."""
    lines = str(error).strip().splitlines()
    message = lines[0][:200] if lines else ""
    own = type(error).__module__ != "builtins"
    return f"{type(error).__name__}: {message}" if own or not message else message


def _open(path: Path):
    try:
        import laspy
    except ImportError as error:  # pragma: no cover - laspy is a dependency of the las extra
        raise DataError(
            f"{path}: reading {path.suffix} files needs laspy ({error}); install pointea[las]"
        ) from None
    from pointea.io.las import check_las_header
    from pointea.io.selection import KeepAll

    try:
        # the public header against the file's size first: laspy reads a header whose points were
        # cut off as a file of 0 points, and believes any VLR count it declares
        check_las_header(path, KeepAll(path, max_points=2**63 - 1))
        return laspy, laspy.open(path)
    except (laspy.errors.LaspyException, OSError, ValueError) as error:
        raise _laspy_error(path, error) from None


#: The most cells of a tile's index; a tile (or a header) wider than that gets larger cells.
MAX_CELLS = 4_000_000


def _grid(extent: np.ndarray, cell: float) -> tuple[float, tuple[int, int]]:
    """The cell size and (X, Y) cells covering ``extent`` metres, at most :data:`MAX_CELLS`."""
    extent = np.maximum(np.nan_to_num(extent[:2], nan=0.0, posinf=0.0), 0.0)
    cell = max(
        cell, float(np.sqrt(extent[0] * extent[1] / MAX_CELLS)), float(max(extent) / MAX_CELLS)
    )
    return cell, (int(extent[0] // cell) + 1, int(extent[1] // cell) + 1)


#: Metres a tile's points may lie beyond its header's bounds (or short of them) before the header
#: is not trusted for the origin: coordinates are kept in float32 relative to the origin, so an origin
#: far from the points (header bounds of zeros, or garbage) would cost them their precision.
HEADER_SLACK = 1.0


def _header_fits(header: tuple[np.ndarray, np.ndarray], lower: np.ndarray, upper: np.ndarray) -> bool:
    """Whether the points' own corners (float64) are the header's, within :data:`HEADER_SLACK`."""
    corners = np.stack(header)  # (2, 3)
    return bool(
        np.isfinite(corners).all()
        and (np.abs(lower - corners[0]) <= HEADER_SLACK).all()
        and (np.abs(upper - corners[1]) <= HEADER_SLACK).all()
    )


def convert_tile(
    path: Path,
    out: Path,
    cell: float = 10.0,
    chunk_points: int = CHUNK_POINTS,
    corners: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Stream one LAS/LAZ tile into memory-mapped arrays in ``out`` (see the module docstring);
    returns what ``tile.json`` records (point count, bounds, origin, fields, cell grid).

    One pass reads the chunks, writes coordinates (relative to the header's lower corner),
    classification, intensity and colour, and each point's cell (from the header's bounds; a
    point outside them goes to the edge cell, where a query reaching past the edge looks too);
    a second pass over the cells alone places every point in its cell's run of ``order.npy``.
    A header whose bounds are not the points' (beyond :data:`HEADER_SLACK`) is not trusted: the
    tile is read once more with the points' own corners as the origin and grid (``corners``).
    """
    from numpy.lib.format import open_memmap

    laspy, reader = _open(path)
    with reader:
        header = reader.header
        count = int(header.point_count)
        dimensions = set(header.point_format.dimension_names)
        stated = (np.asarray(header.mins, dtype=np.float64), np.asarray(header.maxs, dtype=np.float64))
        origin, far = corners if corners is not None else stated  # (3,), (3,)
        asked, (cell, shape) = cell, _grid(far - origin, cell)
        key_type = np.uint16 if shape[0] * shape[1] <= 2**16 else np.int32  # uint16 sorts by radix
        colour = {"red", "green", "blue"} <= dimensions
        labelled = "classification" in dimensions
        coord = open_memmap(out / "coord.npy", "w+", np.float32, (count, 3))
        classification = (
            open_memmap(out / "classification.npy", "w+", np.uint8, (count,)) if labelled else None
        )
        intensity = (
            open_memmap(out / "intensity.npy", "w+", np.uint16, (count,))
            if "intensity" in dimensions
            else None
        )
        color = open_memmap(out / "color.npy", "w+", np.uint16, (count, 3)) if colour else None
        keys = open_memmap(out / "keys.npy", "w+", key_type, (count,))
        histogram = np.zeros(shape[0] * shape[1], dtype=np.int64)
        lower, upper = np.full(3, np.inf), np.full(3, -np.inf)
        colour_max, done = 0, 0
        # a header far from its points overflows float32 here: found below, and the tile read again
        quiet = np.errstate(over="ignore", invalid="ignore") if corners is None else contextlib.nullcontext()
        try:
            with quiet:
                for chunk in reader.chunk_iterator(chunk_points):
                    rows = len(chunk)
                    if done + rows > count:
                        raise DataError(f"{path}: holds more points than its header's {count}")
                    absolute = [np.asarray(chunk.x), np.asarray(chunk.y), np.asarray(chunk.z)]  # float64
                    xyz = [values - origin[axis] for axis, values in enumerate(absolute)]
                    for axis, values in enumerate(xyz):
                        coord[done : done + rows, axis] = values
                        if rows:
                            lower[axis], upper[axis] = (
                                min(lower[axis], absolute[axis].min()),
                                max(upper[axis], absolute[axis].max()),
                            )
                    ix = np.clip((xyz[0] // cell).astype(np.int64), 0, shape[0] - 1)  # (R,)
                    iy = np.clip((xyz[1] // cell).astype(np.int64), 0, shape[1] - 1)
                    chunk_keys = ix * shape[1] + iy
                    keys[done : done + rows] = chunk_keys
                    histogram += np.bincount(chunk_keys, minlength=histogram.shape[0])
                    if classification is not None:
                        classification[done : done + rows] = np.asarray(chunk.classification)
                    if intensity is not None:
                        intensity[done : done + rows] = np.asarray(chunk.intensity)
                    if color is not None:
                        rgb = np.stack([chunk.red, chunk.green, chunk.blue], axis=1)  # (R, 3)
                        color[done : done + rows] = rgb
                        colour_max = max(colour_max, int(rgb.max(initial=0)))
                    done += rows
        except laspy.errors.LaspyException as error:
            raise _laspy_error(path, error) from None
        except (OSError, ValueError, EOFError, RuntimeError) as error:  # RuntimeError: lazrs's LazrsError
            raise DataError(
                f"{path}: truncated or corrupt after {done} of {count} points ({_detail(error)})"
            ) from None
    if done != count:
        raise DataError(f"{path}: truncated: {done} points read, its header says {count}")
    if count and corners is None and not _header_fits(stated, lower, upper):
        del keys, coord, classification, intensity, color  # written again, relative to the points' corner
        return convert_tile(path, out, asked, chunk_points, corners=(lower, upper))
    lower, upper = (lower - origin, upper - origin) if count else (np.zeros(3), np.zeros(3))
    _cell_order(keys, histogram, out, chunk_points)
    del keys, coord, classification, intensity, color  # unmapped; the kernel writes the pages back
    (out / "keys.npy").unlink()
    record = {
        "points": count, "origin": origin.tolist(), "lower": lower.tolist(), "upper": upper.tolist(),
        "classification": labelled, "intensity": "intensity" in dimensions, "color": colour,
        "color_scale": 65535.0 if colour_max > 255 else 255.0, "cell": cell, "shape": list(shape),
        "point_format": int(header.point_format.id), "version": str(header.version),
    }  # fmt: skip
    (out / "tile.json").write_text(json.dumps(record))
    return record


def _cell_order(keys: np.ndarray, histogram: np.ndarray, out: Path, chunk: int) -> None:
    """Counting sort of the points by cell, streaming over ``keys`` (each point's cell):
    ``order.npy`` (point indices, cell by cell, file order within a cell) and ``start.npy``."""
    from numpy.lib.format import open_memmap

    count = keys.shape[0]
    start = np.concatenate([[0], np.cumsum(histogram)])  # (X Y + 1,)
    order = open_memmap(out / "order.npy", "w+", np.int32 if count < 2**31 else np.int64, (count,))
    cursor = start[:-1].copy()  # (X Y,) next free slot of each cell
    for begin in range(0, count, chunk):
        chunk_keys = np.asarray(keys[begin : begin + chunk])  # (R,)
        local = np.argsort(chunk_keys, kind="stable")
        sorted_keys = chunk_keys[local].astype(np.int64)
        counts = np.bincount(sorted_keys, minlength=cursor.shape[0])
        first = np.cumsum(counts) - counts  # (X Y,) where each cell's run starts in this chunk
        rank = np.arange(sorted_keys.shape[0]) - first[sorted_keys]  # position within its cell
        order[cursor[sorted_keys] + rank] = begin + local
        cursor += counts
    del order
    np.save(out / "start.npy", start)


def tile_scene(folder: Path, name: str, path: Path, lookup: np.ndarray) -> Scene:
    """The scene of a tile converted into ``folder`` by :func:`convert_tile`, memory-mapped."""
    record = json.loads((folder / "tile.json").read_text())

    def load(key: str) -> np.ndarray | None:
        target = folder / f"{key}.npy"
        return np.load(target, mmap_mode="r") if target.is_file() else None

    lower, upper = (np.asarray(record[k], dtype=np.float32) for k in ("lower", "upper"))
    grid = np.zeros(3, dtype=np.float32)  # the cells start at the header's lower corner, the origin
    index = CellIndex(
        load("order"), np.load(folder / "start.npy"), grid, record["cell"], tuple(record["shape"])
    )
    return Scene(
        name, path, load("coord"), load("classification"), colors=load("color"),
        color_scale=record["color_scale"], intensity=load("intensity"), intensity_scale=65535.0,
        lookup=lookup, origin=np.asarray(record["origin"]) , bounds=(lower, upper),
        candidates=index if record["points"] else None,
    )  # fmt: skip


def read_tile(path: str | Path, class_map: ClassMap | None = None, ignore_index: int = -1) -> Scene:
    """One LAS/LAZ file read whole into memory as a scene (for prediction on a file; training
    uses the memory-mapped cache instead), in the file's point order.

    Shapes:
        scene.points (N, 3) float32 relative to scene.origin (the file's lower corner, float64)
    """
    path = Path(path).expanduser()
    laspy, reader = _open(path)
    try:
        with reader:
            las = reader.read()
    except laspy.errors.LaspyException as error:
        raise _laspy_error(path, error) from None
    except (OSError, ValueError, EOFError, RuntimeError) as error:  # RuntimeError: lazrs's LazrsError
        raise DataError(f"{path}: truncated or corrupt ({_detail(error)})") from None
    dimensions = set(las.point_format.dimension_names)
    absolute = np.stack([np.asarray(las.x), np.asarray(las.y), np.asarray(las.z)], 1)  # (N, 3) float64
    origin = np.asarray(las.header.mins, dtype=np.float64)
    if len(absolute):
        lower, upper = absolute.min(axis=0), absolute.max(axis=0)
        if not _header_fits((origin, np.asarray(las.header.maxs, dtype=np.float64)), lower, upper):
            origin = lower  # the header's bounds are not the points': their own corner (as convert_tile)
    points = absolute - origin
    colors = (
        np.stack([las.red, las.green, las.blue], axis=1)
        if {"red", "green", "blue"} <= dimensions
        else None
    )
    class_map = class_map or ClassMap.from_dict(DEFAULT_CLASS_MAP, "default class map")
    return Scene(
        path.stem, path, points.astype(np.float32),
        np.asarray(las.classification) if "classification" in dimensions else None,
        colors=colors, color_scale=65535.0 if colors is not None and colors.max(initial=0) > 255 else 255.0,
        intensity=np.asarray(las.intensity) if "intensity" in dimensions else None, intensity_scale=65535.0,
        lookup=class_map.lookup(ignore_index), origin=origin,
    )  # fmt: skip
