"""Old import path of :class:`pointea.models.voting.ScaleVoting` (it moved below training so that
``pointea-predict`` needs no Lightning)."""

from pointea.models.voting import ScaleVoting

__all__ = ["ScaleVoting"]
