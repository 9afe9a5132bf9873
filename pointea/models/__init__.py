"""pointea's networks, assembled from :mod:`pointea.layers`."""

from pointea.models.classifier import PCTClassifier
from pointea.models.encoder import EncoderOutput, PointEncoder
from pointea.models.per_point import PCTNormalEstimator, PCTPartSegmenter, PCTSemanticSegmenter, PerPointHead

__all__ = [
    "EncoderOutput",
    "PCTClassifier",
    "PCTNormalEstimator",
    "PCTPartSegmenter",
    "PCTSemanticSegmenter",
    "PerPointHead",
    "PointEncoder",
]
