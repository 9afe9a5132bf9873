"""pointea's networks, assembled from :mod:`pointea.layers`."""

from pointea.models.classifier import PCTClassifier
from pointea.models.encoder import EncoderOutput, PointEncoder
from pointea.models.segmenter import PCTPartSegmenter

__all__ = ["EncoderOutput", "PCTClassifier", "PCTPartSegmenter", "PointEncoder"]
