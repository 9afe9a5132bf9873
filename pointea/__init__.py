"""pointea: point cloud analysis with external attention.

The networks import only torch and PyG. The Lightning parts (data modules, training modules) are
exported here too, but imported on first use, so ``import pointea`` stays light.
"""

from importlib import import_module
from typing import Any

from pointea.layers.external_attention import ExternalAttention
from pointea.models import (
    EncoderOutput,
    PCTClassifier,
    PCTNormalEstimator,
    PCTPartSegmenter,
    PCTSemanticSegmenter,
    PointEncoder,
)

__version__ = "0.1.0"

# Public names that live in Lightning-dependent modules: name -> module.
_LAZY_EXPORTS = {
    "ModelNet40DataModule": "pointea.data",
    "ShapeNetPartDataModule": "pointea.data",
    "PointCloudClassifier": "pointea.training",
    "PartSegmentation": "pointea.training",
}

__all__ = [
    "EncoderOutput",
    "ExternalAttention",
    "PCTClassifier",
    "PCTNormalEstimator",
    "PCTPartSegmenter",
    "PCTSemanticSegmenter",
    "PointEncoder",
    *_LAZY_EXPORTS,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_EXPORTS:
        return getattr(import_module(_LAZY_EXPORTS[name]), name)
    raise AttributeError(f"module 'pointea' has no attribute {name!r}")
