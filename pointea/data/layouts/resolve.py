"""Which layout a data root holds, and the HDF5 folder the loaders read for it.

The data modules' ``layout`` option: ``"auto"`` takes the first layout found in this order
(HDF5 archive first, so an existing archive is never shadowed), or a named one.

    ModelNet40:   hdf5 (modelnet40_ply_hdf5_2048), normal_resampled, off (Princeton ModelNet40/)
    ShapeNetPart: hdf5 (shapenet_part_seg_hdf5_data or hdf5_data), v0_normal, v0

For a text or mesh layout the returned folder is its one-time HDF5 conversion (see
:mod:`pointea.data.layouts.cache`), made with max(2048, num_points) points per shape.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pointea.data.layouts.listing import MissingPolicy
from pointea.data.layouts.modelnet40_normal_resampled import NormalResampled
from pointea.data.layouts.modelnet40_off import PrincetonOFF
from pointea.data.layouts.shapenetpart_text import V0, V0Normal
from pointea.data.modelnet40 import ModelNet40
from pointea.data.shapenetpart import ShapeNetPart
from pointea.errors import DataError

__all__ = [
    "ModelNet40Layout",
    "ShapeNetPartLayout",
    "MODELNET40_LAYOUTS",
    "SHAPENETPART_LAYOUTS",
    "find_modelnet40_layout",
    "find_shapenetpart_layout",
    "modelnet40_archive",
    "shapenetpart_archive",
    "modelnet40_class_names",
    "cached_points",
]

ModelNet40Layout = Literal["auto", "hdf5", "normal_resampled", "off"]
ShapeNetPartLayout = Literal["auto", "hdf5", "v0_normal", "v0"]
MODELNET40_LAYOUTS: tuple[str, ...] = get_args(ModelNet40Layout)
SHAPENETPART_LAYOUTS: tuple[str, ...] = get_args(ShapeNetPartLayout)

_MODELNET40_FINDERS = {
    "hdf5": ModelNet40.LAYOUT.find,
    "normal_resampled": NormalResampled.find,
    "off": PrincetonOFF.find,
}
_SHAPENETPART_FINDERS = {
    "hdf5": ShapeNetPart.LAYOUT.find,
    "v0_normal": V0Normal.find,
    "v0": V0.find,
}
_MODELNET40_EXPECTED = {
    "normal_resampled": "modelnet40_normal_resampled/ with modelnet40_shape_names.txt, "
    "modelnet40_{train,test}.txt and <class>/<class>_NNNN.txt",
    "off": "ModelNet40/<class>/{train,test}/<class>_NNNN.off",
}
_SHAPENETPART_EXPECTED = {
    "v0_normal": f"{V0Normal.FOLDER}/ with synsetoffset2category.txt, train_test_split/ and "
    "<synset>/<id>.txt",
    "v0": f"{V0.FOLDER}/ with synsetoffset2category.txt, train_test_split/ and "
    "<synset>/points/<id>.pts + points_label/<id>.seg",
}


def cached_points(num_points: int) -> int:
    """Points per shape in a conversion: 2048 as in the HDF5 archives, more when asked for."""
    return max(2048, num_points)


def _find(root: str | Path, layout: str, finders: dict, dataset: str) -> str | None:
    if layout != "auto" and layout not in finders:
        raise DataError(
            f"{dataset}: layout must be one of auto, {', '.join(finders)}; got {layout!r}"
        )
    names = finders if layout == "auto" else (layout,)
    return next((name for name in names if finders[name](root) is not None), None)


def find_modelnet40_layout(root: str | Path, layout: str = "auto") -> str | None:
    """The ModelNet40 layout under ``root`` (``layout`` itself when it is there), or ``None``."""
    return _find(root, layout, _MODELNET40_FINDERS, "ModelNet40")


def find_shapenetpart_layout(root: str | Path, layout: str = "auto") -> str | None:
    """The ShapeNetPart layout under ``root`` (``layout`` itself when it is there), or ``None``."""
    return _find(root, layout, _SHAPENETPART_FINDERS, "ShapeNetPart")


def _not_found(
    dataset: str, root: str | Path, layout: str, expected: dict[str, str], locate
) -> DataError:
    """The error for a root without the layout asked for (the HDF5 message explains downloads)."""
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


def modelnet40_archive(
    root: str | Path,
    layout: str = "auto",
    num_points: int = 1024,
    cache_root: str | Path | None = None,
    missing: MissingPolicy = "error",
    seed: int = 0,
    workers: int | None = None,
) -> Path:
    """The ModelNet40 HDF5 folder to read for ``root``: itself, or the layout's conversion.

    Raises:
        DataError: no such layout under ``root`` (says what is expected), or a bad source file.
    """
    found = find_modelnet40_layout(root, layout)
    if found is None:
        raise _not_found("ModelNet40", root, layout, _MODELNET40_EXPECTED, ModelNet40.LAYOUT.locate)
    points = cached_points(num_points)
    if found == "normal_resampled":
        return NormalResampled.find(root).cache(cache_root, points, missing, workers)
    if found == "off":
        return PrincetonOFF.find(root).cache(cache_root, points, seed, workers)
    return ModelNet40.LAYOUT.locate(root)


def shapenetpart_archive(
    root: str | Path,
    layout: str = "auto",
    num_points: int = 2048,
    cache_root: str | Path | None = None,
    missing: MissingPolicy = "error",
    seed: int = 0,
    workers: int | None = None,
) -> Path:
    """The ShapeNetPart HDF5 folder to read for ``root``: itself, or the layout's conversion.

    Raises:
        DataError: no such layout under ``root`` (says what is expected), or a bad source file.
    """
    found = find_shapenetpart_layout(root, layout)
    if found is None:
        raise _not_found(
            "ShapeNetPart", root, layout, _SHAPENETPART_EXPECTED, ShapeNetPart.LAYOUT.locate
        )
    if found == "hdf5":
        return ShapeNetPart.LAYOUT.locate(root)
    release = (V0Normal if found == "v0_normal" else V0).find(root)
    return release.cache(cache_root, cached_points(num_points), missing, seed, workers)


def modelnet40_class_names(root: str | Path, layout: str = "auto") -> list[str] | None:
    """Class names of the ModelNet40 layout under ``root`` without converting it, or ``None``."""
    found = find_modelnet40_layout(root, layout)
    if found == "hdf5":
        return ModelNet40.read_class_names(ModelNet40.LAYOUT.locate(root))
    if found == "normal_resampled":
        return NormalResampled.find(root).class_names()
    if found == "off":
        return PrincetonOFF.find(root).class_names()
    return None
