"""Data: one module per data set (its layouts, dataset, data module and verification together),
beside the shared parts they build on.

Data sets:
    :mod:`~pointea.data.modelnet40` (HDF5 archive, ``modelnet40_normal_resampled`` text release,
    Princeton's ``.off`` meshes), :mod:`~pointea.data.shapenetpart` (HDF5 archive, ``v0_normal`` and
    ``v0`` text releases), :mod:`~pointea.data.scanobjectnn`, :mod:`~pointea.data.class_folder` (your
    own files, one folder per class), :mod:`~pointea.data.normals` (clouds with true normals from
    every source that has them, for normal estimation), :mod:`~pointea.data.synthetic` (the
    embedded default).
Scenes (rooms, lidar tiles, scans; docs/scenes-data.md):
    :mod:`~pointea.data.s3dis`, :mod:`~pointea.data.lidar`, :mod:`~pointea.data.semantickitti`,
    :mod:`~pointea.data.synthetic_scenes` (procedural rooms and tiles), on
    :mod:`~pointea.data.scene` (a scene and its served points; no Lightning),
    :mod:`~pointea.data.scenes` (their data module), :mod:`~pointea.data.lidar_tiles` (LAS/LAZ
    tiles and class maps; no Lightning), :mod:`~pointea.data.crops` and
    :mod:`~pointea.data.scene_transforms`.
Shared:
    :mod:`~pointea.data.storage` (HDF5 files, archive folders and their file lists),
    :mod:`~pointea.data.validation` (checks on archive arrays), :mod:`~pointea.data.cache` (other
    layouts converted once into the HDF5 layout), :mod:`~pointea.data.dataset` (the in-memory
    dataset), :mod:`~pointea.data.transforms` (transforms and the named augmentations),
    :mod:`~pointea.data.datamodule` (what every LightningDataModule shares),
    :mod:`~pointea.data.arguments` (range checks of user numbers), :mod:`~pointea.data.verify`,
    :mod:`~pointea.data.download`, :mod:`~pointea.data.cli` (``pointea-data``).

Start with :class:`ModelNet40DataModule` / :class:`ShapeNetPartDataModule`; the ``pointea-data``
command writes the synthetic sets, verifies a folder and downloads the archives.

The names below are imported on first use, so ``import pointea.data.transforms`` (or any other
light module) does not pull in Lightning; the data modules import it.
"""

from importlib import import_module
from typing import Any

# Public name -> the module that defines it.
_EXPORTS = {
    "ARCHIVES": "pointea.data.download",
    "AUGMENTATIONS": "pointea.data.transforms",
    "ClassFolderDataModule": "pointea.data.class_folder",
    "DataError": "pointea.errors",
    "ModelNet40": "pointea.data.modelnet40",
    "ModelNet40DataModule": "pointea.data.modelnet40",
    "NormalsDataModule": "pointea.data.normals",
    "ScanObjectNN": "pointea.data.scanobjectnn",
    "ScanObjectNNDataModule": "pointea.data.scanobjectnn",
    "ShapeNetPart": "pointea.data.shapenetpart",
    "ShapeNetPartDataModule": "pointea.data.shapenetpart",
    "build_transform": "pointea.data.transforms",
    "category_of_part": "pointea.data.shapenetpart",
    "download_archive": "pointea.data.download",
    "verify_folder": "pointea.data.verify",
    "write_synthetic_modelnet40": "pointea.data.synthetic",
    "write_synthetic_shapenetpart": "pointea.data.synthetic",
    # Scenes (rooms, lidar tiles, scans): see docs/scenes-data.md.
    "LidarDataModule": "pointea.data.lidar",
    "S3DISDataModule": "pointea.data.s3dis",
    "SemanticKITTIDataModule": "pointea.data.semantickitti",
    "write_synthetic_rooms": "pointea.data.synthetic_scenes",
    "write_synthetic_tiles": "pointea.data.synthetic_scenes",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'pointea.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
