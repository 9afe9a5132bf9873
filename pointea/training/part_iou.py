"""ShapeNetPart's part IoU as a torchmetrics ``Metric``: instance and class mIoU.

The standard convention (PointNet, DGCNN, PCT): for each shape, IoU is computed for every part of
the shape's own category, a part absent from both prediction and ground truth counts as IoU 1.0,
and the shape's IoU is the mean over those parts. Instance mIoU averages over shapes; class mIoU
averages, over the categories present, the mean shape IoU of each category. Predictions should be
restricted to the category's parts (:meth:`CategoryParts.restricted_argmax`); parts of other
categories only lower the IoU of the category's own parts.

State: per category, the sum of shape IoUs and the number of shapes, summed across processes, so
the result is exact under DDP.

Shape legend: B shapes, N points, C categories, K part labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor
from torchmetrics import Metric

from pointea.models.category_parts import CategoryParts

__all__ = ["PartIoU"]


class PartIoU(Metric):
    """Instance and class mean IoU of part segmentation.

    Args:
        parts_per_category: category name -> global part ids (see :class:`CategoryParts`).

    ``update(predictions, parts, category)``; ``compute()`` returns ``{"instance_miou": (),
    "class_miou": (), "category_iou": (C,)}``, with NaN for categories that had no shape.

    Shapes:
        predictions: (B, N) long part ids; parts: (B, N) long ground truth; category: (B,) long
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    iou_sum: Tensor
    shape_count: Tensor

    def __init__(self, parts_per_category: Mapping[str, Sequence[int]], **kwargs) -> None:
        super().__init__(**kwargs)
        self.category_parts = CategoryParts(parts_per_category)
        num_categories = self.category_parts.num_categories
        self.add_state("iou_sum", torch.zeros(num_categories, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("shape_count", torch.zeros(num_categories, dtype=torch.float64), dist_reduce_fx="sum")

    @property
    def category_names(self) -> tuple[str, ...]:
        return self.category_parts.names

    def update(self, predictions: Tensor, parts: Tensor, category: Tensor) -> None:
        if predictions.shape != parts.shape or predictions.dim() != 2 or category.shape != parts.shape[:1]:
            raise ValueError(
                f"PartIoU expects predictions and parts (B, N) and category (B,); got "
                f"{tuple(predictions.shape)}, {tuple(parts.shape)}, {tuple(category.shape)}"
            )
        num_shapes, num_parts = parts.shape[0], self.category_parts.num_parts
        shape = torch.arange(num_shapes, device=parts.device).unsqueeze(1) * num_parts  # (B, 1)
        size = num_shapes * num_parts

        def count(indices: Tensor) -> Tensor:
            """Points per (shape, part). Shapes: indices (...) of shape * K + part; returns (B, K)."""
            return torch.bincount(indices.reshape(-1), minlength=size).view(num_shapes, num_parts)  # (B * K,) -> (B, K)

        hits = predictions == parts  # (B, N)
        intersection = count((shape + parts)[hits])  # (B, K)
        union = count(shape + predictions) + count(shape + parts) - intersection  # (B, K)
        iou = torch.where(union > 0, intersection.double() / union.clamp_min(1), 1.0)  # (B, K); absent in both: 1
        own = self.category_parts.mask[category]  # (B, K): the shape's category's parts
        shape_iou = (iou * own).sum(dim=1) / own.sum(dim=1)  # (B,) mean over the category's parts
        self.iou_sum += torch.bincount(category, weights=shape_iou, minlength=len(self.iou_sum))
        self.shape_count += torch.bincount(category, minlength=len(self.shape_count)).double()

    def compute(self) -> dict[str, Tensor]:
        category_iou = self.iou_sum / self.shape_count  # (C,), NaN where no shape
        present = self.shape_count > 0
        return {
            "instance_miou": (self.iou_sum.sum() / self.shape_count.sum()).float(),
            "class_miou": category_iou[present].mean().float(),
            "category_iou": category_iou.float(),
        }
