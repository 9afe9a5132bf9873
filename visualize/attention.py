"""Per-head attention on points: an interactive open3d window, or a headless picture.

Usage (from the repository root)::

    python -m visualize.attention --config CONFIG [--ckpt CKPT] --split test --index I [--save out.png]
    python -m visualize.attention --config CONFIG [--ckpt CKPT] --file scan.ply [--save out.png]

Without ``--save`` a window opens (it needs a display); the key map is printed and shown in the
window. With ``--save`` the picture has one tile per head (columns) and layer (rows) for sample
``I``, plus the input coloured by its truth and by the prediction. Without ``--ckpt`` the model is
randomly initialised (``--seed``), and the title says so. ``--file`` shows the model on one point or
mesh file of your own instead of a data set sample (classification configs; the file's class is
unknown, so the first column shows the prediction).

External attention colours each point by its weight on one memory slot (``--colour-by weight
--slot K``, viridis) or by the slot it attends to most (``--colour-by argmax``, the default for
pictures: all slots at once; the window starts with ``weight``, and M toggles). Offset (self) attention colours every point by the attention row of
a query point (``--query Q``, marked in red). Attention lives on the encoder's sampled points;
``--full-cloud`` propagates it to every input point by nearest neighbour.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pointea.errors import InputError
from visualize.arguments import add_model_arguments, add_sample_arguments, check_index, run_command
from visualize.inference import record_attention
from visualize.loading import load_data, load_file, load_model
from visualize.options import CommandParser, int_option
from visualize.record import AttentionRecord
from visualize.state import ViewState

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="python -m visualize.attention",
        description="Show per-head attention of a pointea model on a sample: open3d window, or --save a PNG grid.",
    )
    add_sample_arguments(parser)
    add_model_arguments(parser)
    parser.add_argument(
        "--colour-by", choices=("argmax", "weight"),
        help="external attention: the slot each point attends to most, or the weight on --slot "
        "(default: argmax in a --save picture, weight in the window; M toggles)",
    )  # fmt: skip
    parser.add_argument("--slot", type=int_option(1), default=1, help="memory slot for --colour-by weight, 1-based (default: 1)")
    parser.add_argument("--query", type=int_option(1), default=1, help="offset attention: query point, 1-based (default: 1)")
    parser.add_argument("--full-cloud", action="store_true", help="propagate attention to every input point")
    parser.add_argument("--file", help="a point or mesh file (.ply .off .xyz ...) to show instead of a data set sample")
    return parser


def _command(args: argparse.Namespace) -> int:
    if args.file:
        data = load_file(args.config, args.file, args.seed)
        args.index, args.split = 0, Path(args.file).name
    else:
        data = load_data(args.config, args.split, args.data_root)
    check_index(args.index, len(data.dataset), args.split, data.description)
    model = load_model(args.config, args.ckpt, data, seed=args.seed, device=args.device)

    def load(index: int) -> AttentionRecord:
        return record_attention(model.network, data.dataset[index], data.label_names, args.split)

    state = ViewState(
        sample=args.index,
        slot=args.slot - 1,
        query=args.query - 1,
        colour_by=args.colour_by or ("argmax" if args.save else "weight"),
        full_cloud=args.full_cloud,
    )
    record = load(args.index)
    if record.kind == "external" and not 1 <= args.slot <= record.num_slots:
        raise InputError(f"--slot {args.slot} is out of range: the model has {record.num_slots} memory slots")
    if record.kind == "offset" and not 1 <= args.query <= record.num_attention_points:
        raise InputError(f"--query {args.query} is out of range: attention has {record.num_attention_points} points")
    if args.save:
        from visualize.attention_picture import attention_picture
        from visualize.picture import save_image

        image = attention_picture(record, state, model.note, args.tile_size)
        print(f"wrote {save_image(image, args.save)}: {model.note} | {record.caption}")
        return 0
    from visualize.attention_viewer import AttentionViewer
    from visualize.window import run_window

    first = {args.index: record}  # computed above already
    run_window(AttentionViewer(lambda i: first.pop(i) if i in first else load(i), len(data.dataset), model.note, state))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m visualize.attention``."""
    return run_command(_parser(), _command, argv)


if __name__ == "__main__":
    sys.exit(main())
