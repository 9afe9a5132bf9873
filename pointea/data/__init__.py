"""Data: the ModelNet40 and ShapeNetPart HDF5 archives (and their text and mesh releases, converted
once: :mod:`pointea.data.layouts`), ScanObjectNN, transforms, a synthetic default, and the
LightningDataModules that serve them.

Start with :class:`ModelNet40DataModule` / :class:`ShapeNetPartDataModule`; the ``pointea-data``
command writes the synthetic sets, verifies a folder and downloads the archives.
"""

from pointea.data.class_folder_datamodule import ClassFolderDataModule
from pointea.data.datamodules import ModelNet40DataModule, ShapeNetPartDataModule
from pointea.data.download import ARCHIVES, download_archive
from pointea.data.modelnet40 import ModelNet40
from pointea.data.presets import AUGMENTATIONS, build_transform
from pointea.data.scanobjectnn import ScanObjectNN
from pointea.data.scanobjectnn_datamodule import ScanObjectNNDataModule
from pointea.data.shapenetpart import ShapeNetPart, category_of_part
from pointea.data.synthetic import write_synthetic_modelnet40, write_synthetic_shapenetpart
from pointea.data.verify import verify_folder
from pointea.errors import DataError

__all__ = [
    "ARCHIVES",
    "AUGMENTATIONS",
    "ClassFolderDataModule",
    "DataError",
    "ModelNet40",
    "ModelNet40DataModule",
    "ScanObjectNN",
    "ScanObjectNNDataModule",
    "ShapeNetPart",
    "ShapeNetPartDataModule",
    "build_transform",
    "category_of_part",
    "download_archive",
    "verify_folder",
    "write_synthetic_modelnet40",
    "write_synthetic_shapenetpart",
]
