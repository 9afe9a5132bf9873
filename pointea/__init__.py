"""pointea: point cloud analysis with external attention.

Every public name is imported on first use (PEP 562), so ``import pointea`` loads nothing but this
file, and a light subpackage such as :mod:`pointea.io` never pays for the networks (torch_geometric)
or for training (Lightning). ``from pointea import PCTClassifier`` works as usual.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "ExternalAttention": "pointea.layers.external_attention",
    "EncoderOutput": "pointea.models",
    "PointEncoder": "pointea.models",
    "PCTClassifier": "pointea.models",
    "PCTPartSegmenter": "pointea.models",
    "PCTSemanticSegmenter": "pointea.models",
    "PCTNormalEstimator": "pointea.models",
    "ModelNet40DataModule": "pointea.data",
    "ShapeNetPartDataModule": "pointea.data",
    "PointCloudClassifier": "pointea.training",
    "PartSegmentation": "pointea.training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'pointea' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
