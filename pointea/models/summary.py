"""Size and cost of pointea's networks: parameters and FLOPs of both attention kinds, side by side.

Run ``python -m pointea.models.summary`` for a markdown table (one forward pass each on a random
cloud: classifier at 1024 points, part segmenter at 2048 points). FLOPs come from ``torch.utils.flop_counter``, which
counts matrix products and convolutions (2 FLOPs per multiply-add), not element-wise operations.
"""

from __future__ import annotations

import argparse
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from pointea.models.classifier import PCTClassifier
from pointea.models.segmenter import PCTPartSegmenter

__all__ = ["count_parameters", "count_flops", "summarize", "main"]


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@torch.no_grad()
def count_flops(model: nn.Module, *inputs: Any) -> tuple[int, Any]:
    """FLOPs of one forward pass of ``model`` on ``inputs`` (eval mode), and that pass's output."""
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        output = model(*inputs)
    model.train(was_training)
    return counter.get_total_flops(), output


def summarize(num_points_classifier: int = 1024, num_points_segmenter: int = 2048) -> list[dict[str, Any]]:
    """Parameters and per-shape FLOPs of the classifier and part segmenter, for both attention kinds."""
    torch.manual_seed(0)
    rows = []
    for attention in ("offset", "external"):
        classifier = PCTClassifier(num_classes=40, attention=attention)
        points = torch.rand(1, num_points_classifier, 3)
        flops, logits = count_flops(classifier, points)
        rows.append(dict(model="PCTClassifier", attention=attention, input=tuple(points.shape),
                         output=tuple(logits.shape), parameters=count_parameters(classifier), flops=flops))
        segmenter = PCTPartSegmenter(attention=attention)
        points = torch.rand(1, num_points_segmenter, 3)
        flops, logits = count_flops(segmenter, points, torch.tensor([0]))
        rows.append(dict(model="PCTPartSegmenter", attention=attention, input=tuple(points.shape),
                         output=tuple(logits.shape), parameters=count_parameters(segmenter), flops=flops))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classifier-points", type=int, default=1024)
    parser.add_argument("--segmenter-points", type=int, default=2048)
    args = parser.parse_args(argv)
    rows = summarize(args.classifier_points, args.segmenter_points)
    print("| model | attention | input | output | parameters | GFLOPs per shape |")
    print("|---|---|---|---|---:|---:|")
    for row in rows:
        print(f"| {row['model']} | {row['attention']} | {row['input']} | {row['output']} "
              f"| {row['parameters'] / 1e6:.3f} M | {row['flops'] / 1e9:.2f} |")


if __name__ == "__main__":
    main()
