"""Old import path of :class:`pointea.models.category_parts.CategoryParts` (it moved below
training so that ``pointea-predict`` needs no Lightning)."""

from pointea.models.category_parts import CategoryParts

__all__ = ["CategoryParts"]
