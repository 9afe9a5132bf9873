"""Which part labels belong to which object category (ShapeNetPart's label space, or any other).

Part segmentation scores a shape only on its own category's parts, and predicts only among them.
:class:`CategoryParts` holds that map as tensors and does the restricted argmax.

Shape legend: B shapes, N points, C categories, K part labels over all categories.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

__all__ = ["CategoryParts"]


class CategoryParts(nn.Module):
    """The category -> parts map of a part-segmentation label space.

    Args:
        parts_per_category: category name -> its global part ids, in category-id order (ids are
            the dict's order). Every part id in ``[0, num_parts)`` must belong to exactly one
            category.
        num_parts: the number of part labels K (``max id + 1`` when ``None``).

    Buffers (follow the module's device):
        mask: (C, K) bool, True where the part belongs to the category.
        category_of_part: (K,) long.
    """

    def __init__(self, parts_per_category: Mapping[str, Sequence[int]], num_parts: int | None = None) -> None:
        super().__init__()
        if not parts_per_category:
            raise ValueError("parts_per_category is empty")
        self.names = tuple(parts_per_category)
        ids = [int(p) for parts in parts_per_category.values() for p in parts]
        num_parts = max(ids) + 1 if num_parts is None else num_parts
        if any(not parts for parts in parts_per_category.values()):
            raise ValueError("parts_per_category: every category needs at least one part")
        if sorted(ids) != list(range(num_parts)):
            raise ValueError(
                f"parts_per_category must assign each part id 0..{num_parts - 1} to exactly one category; "
                f"got ids {sorted(ids)}"
            )
        mask = torch.zeros(len(self.names), num_parts, dtype=torch.bool)  # (C, K)
        for category, parts in enumerate(parts_per_category.values()):
            mask[category, list(parts)] = True
        self.register_buffer("mask", mask, persistent=False)
        self.register_buffer("category_of_part", mask.long().argmax(dim=0), persistent=False)  # (K,)

    @property
    def num_categories(self) -> int:
        return self.mask.shape[0]

    @property
    def num_parts(self) -> int:
        return self.mask.shape[1]

    def restricted_argmax(self, scores: Tensor, category: Tensor) -> Tensor:
        """Per point, the highest-scoring part among the shape's category's parts only.

        Shapes:
            scores: (B, N, K) logits or probabilities; category: (B,) long; returns (B, N) long
        """
        allowed = self.mask[category].unsqueeze(1)  # (B, K) -> (B, 1, K)
        return scores.masked_fill(~allowed, float("-inf")).argmax(dim=-1)
