"""The other common dataset layouts, read as distributed and converted once into the HDF5 layouts.

- ModelNet40 ``modelnet40_normal_resampled/`` (PointNet++'s text release):
  :class:`NormalResampled`.
- ModelNet40 as Princeton distributes it (``ModelNet40/<class>/{train,test}/*.off``):
  :class:`PrincetonOFF`.
- ShapeNetPart ``..._v0_normal/`` and ``..._v0/`` text releases: :class:`V0Normal`, :class:`V0`.

Each converts into the HDF5 layout the loaders read (:mod:`pointea.data.layouts.cache`), under
``<data root>/pointea_cache/``; the data modules' ``layout`` option picks one
(:mod:`pointea.data.layouts.resolve`), and ``pointea-data verify`` checks each
(:mod:`pointea.data.layouts.verify_layouts`). ScanObjectNN is published in HDF5 and read directly
(:mod:`pointea.data.scanobjectnn`).
"""

from pointea.data.layouts.cache import CACHE_FOLDER
from pointea.data.layouts.listing import MISSING_POLICIES
from pointea.data.layouts.modelnet40_normal_resampled import NormalResampled
from pointea.data.layouts.modelnet40_off import PrincetonOFF
from pointea.data.layouts.resolve import (
    MODELNET40_LAYOUTS,
    SHAPENETPART_LAYOUTS,
    modelnet40_archive,
    shapenetpart_archive,
)
from pointea.data.layouts.shapenetpart_text import V0, V0Normal

__all__ = [
    "CACHE_FOLDER",
    "MISSING_POLICIES",
    "MODELNET40_LAYOUTS",
    "NormalResampled",
    "PrincetonOFF",
    "SHAPENETPART_LAYOUTS",
    "V0",
    "V0Normal",
    "modelnet40_archive",
    "shapenetpart_archive",
]
