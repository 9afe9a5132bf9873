"""Former home of :class:`PCTPartSegmenter`, kept so that ``pointea.models.segmenter`` imports and
checkpoint records naming ``pointea.models.segmenter.PCTPartSegmenter`` keep working; the per-point
networks live in :mod:`pointea.models.per_point`."""

from pointea.models.per_point import SEGMENTATION_ENCODER, PCTPartSegmenter

__all__ = ["PCTPartSegmenter", "SEGMENTATION_ENCODER"]
