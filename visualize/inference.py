"""Run a model on one sample and keep what the viewers draw (:class:`AttentionRecord`).

Shape legend: N points, K classes or parts, P parts of one ShapeNetPart category.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from pointea.data import ShapeNetPart
from pointea.models import PCTClassifier, PCTPartSegmenter
from pointea.training import CategoryParts
from visualize.record import AttentionRecord

__all__ = ["category_parts", "local_parts", "record_attention", "restricted_part_prediction"]


def category_parts(category: int) -> np.ndarray:
    """The global ids of ShapeNetPart category ``category``'s parts, ascending (Airplane: 0..3).

    Shapes:
        returns (P,) int64
    """
    return np.asarray(ShapeNetPart.PARTS_PER_CATEGORY[ShapeNetPart.CATEGORIES[category]], dtype=np.int64)


def local_parts(parts: np.ndarray, category: int) -> np.ndarray:
    """ShapeNetPart's global part ids as indices into the parts of ``category`` (0: its first
    part), the labels the viewers colour: every category's parts then take the palette's first,
    most distinct colours (global ids would give a category's neighbouring parts shades of one hue).

    Shapes:
        parts: (N,) global part ids of that category; returns (N,) int64 in [0, its part count)

    Raises:
        ValueError: a part that is not one of the category's.
    """
    own = category_parts(category)  # (P,)
    parts = np.asarray(parts, dtype=np.int64)
    local = np.searchsorted(own, parts)  # (N,)
    if parts.size and (local.max() >= own.size or not np.array_equal(own[local], parts)):
        raise ValueError(f"local_parts: parts outside {ShapeNetPart.CATEGORIES[category]}'s parts {own.tolist()}")
    return local


def restricted_part_prediction(logits: torch.Tensor, category: int) -> np.ndarray:
    """Per-point part prediction restricted to the parts of ``category`` (the ShapeNetPart
    convention: argmax over that category's part logits only), as ``PartSegmentation`` predicts
    and scores (:meth:`~pointea.training.CategoryParts.restricted_argmax`).

    Shapes:
        logits: (N, 50); returns (N,) int64 global part ids
    """
    restrict = CategoryParts(ShapeNetPart.PARTS_PER_CATEGORY, num_parts=ShapeNetPart.NUM_PARTS).to(logits.device)
    category_t = torch.tensor([category], device=logits.device)  # (1,)
    return restrict.restricted_argmax(logits.unsqueeze(0), category_t)[0].cpu().numpy()  # (1, N, 50) -> (N,)


@torch.no_grad()
def record_attention(
    model: nn.Module, item: Mapping[str, Any], class_names: Sequence[str], split: str = "test"
) -> AttentionRecord:
    """Evaluate ``model`` (eval mode, on its device) on one dataset item and collect its
    attention maps, input, truth and prediction.

    Args:
        model: a :class:`PCTClassifier` or :class:`PCTPartSegmenter`.
        item: a dataset item: ``{"points": (N, 3), "label", "index"}`` for classification,
            ``{"points": (N, 3), "category", "parts": (N,), "index"}`` for segmentation.
        class_names: classification class names (ignored for segmentation, which names
            ShapeNetPart's categories).
        split: split name for the caption.
    """
    model.eval()
    device = next(model.parameters()).device
    points = torch.as_tensor(item["points"], dtype=torch.float32, device=device).unsqueeze(0)  # (1, N, 3)
    num_points = points.shape[1]
    where = f"{split} #{int(item['index'])}" if int(item["index"]) >= 0 else split  # -1: a file
    if isinstance(model, PCTPartSegmenter):
        category = int(item["category"])
        logits, encoding = model(points, torch.tensor([category], device=device), return_attention=True)
        truth = local_parts(item["parts"], category)
        prediction = local_parts(restricted_part_prediction(logits[0], category), category)
        accuracy = float((prediction == truth).mean())
        caption = f"{where}: {ShapeNetPart.CATEGORIES[category]}, predicted parts {accuracy:.0%} right"
        num_labels = len(category_parts(category))
        truth_title, prediction_title = "truth parts", "predicted parts"
    elif isinstance(model, PCTClassifier):
        label = int(item["label"])  # -1: unknown (a file of the user's)
        logits, encoding = model(points, return_attention=True)
        probabilities = logits[0].softmax(dim=-1)  # (K,)
        predicted = int(probabilities.argmax())
        prediction = np.full(num_points, predicted, dtype=np.int64)
        truth = np.full(num_points, label, dtype=np.int64) if label >= 0 else prediction
        known = f"{class_names[label]}, " if label >= 0 else ""
        caption = f"{where}: {known}predicted {class_names[predicted]} ({float(probabilities[predicted]):.0%})"
        num_labels = model.num_classes
        truth_title = f"truth: {class_names[label]}" if label >= 0 else "class unknown"
        prediction_title = f"predicted: {class_names[predicted]}"
    else:
        raise TypeError(f"record_attention: expected a PCTClassifier or PCTPartSegmenter, got {type(model).__name__}")
    return AttentionRecord(
        points=points[0].cpu().numpy().astype(np.float64),
        positions=encoding.positions[0].cpu().numpy().astype(np.float64),
        attention=tuple(a[0].float().cpu().numpy() for a in encoding.attention),  # L x (H, M, S | M)
        kind=model.encoder.attention,
        truth=truth,
        prediction=prediction,
        num_labels=num_labels,
        caption=caption,
        truth_title=truth_title,
        prediction_title=prediction_title,
    )
