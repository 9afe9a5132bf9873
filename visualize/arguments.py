"""The viewer commands' shared options and how they report bad input.

Every command takes a training config (for the data, and the architecture when there is no
checkpoint), an optional checkpoint, a split and a sample index; ``--save`` renders headless
instead of opening a window. Bad input ends the command with one ``error:`` line and exit status 2,
never a traceback: :class:`CommandParser` prints that line and a one-line hint instead of the whole
usage block. Numbers are checked as they are parsed (:func:`int_option`: name, allowed range and
value in the message), except the bounds that depend on what is loaded (the split's size for
``--index``, the model's memory slots and points for ``--slot`` and ``--query``), checked as soon as
that is known. ``--save`` is checked before anything is loaded
(:func:`visualize.picture.check_save_path`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from pointea.errors import CheckpointError, ConfigError, DataError, InputError
from visualize.picture import check_save_path
from visualize.render import MAX_TILE_SIZE
from visualize.window import NO_DISPLAY, has_display

__all__ = [
    "MAX_SEED",
    "MIN_TILE_SIZE",
    "CommandParser",
    "add_model_arguments",
    "add_sample_arguments",
    "check_index",
    "int_option",
    "model_viewer_parser",
    "run_command",
]


class CommandParser(argparse.ArgumentParser):
    """argparse, except that a usage error prints its ``error:`` line first and a one-line hint,
    not the whole usage block (exit status 2, as argparse)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n{self.prog} --help lists the options\n")


def int_option(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``low..high`` (no upper bound when ``high`` is None)."""
    allowed = f"an integer in {low}..{high}" if high is not None else f"an integer >= {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {allowed}, got {value}")
        return value

    return parse


#: Smallest picture tile that still shows a cloud and its title.
MIN_TILE_SIZE = 32
#: Seeds of the random model (torch takes 64 bits; 32 is the usual range).
MAX_SEED = 2**32 - 1


def add_sample_arguments(parser: argparse.ArgumentParser, splits: Sequence[str] = ("train", "val", "test")) -> None:
    """``--config``, ``--split``, ``--index``, ``--data-root``, ``--save``, ``--tile-size``."""
    parser.add_argument("--config", required=True, help="training config (YAML), e.g. configs/modelnet40.yaml")
    parser.add_argument("--split", default="test", choices=splits, help="split to show (default: test)")
    parser.add_argument("--index", type=int, default=0, help="sample index in the split (default: 0)")
    parser.add_argument("--data-root", help="data folder, overriding the config's (any folder in the same layout)")
    parser.add_argument(
        "--save", metavar="PICTURE", help="render headless to this .png or .jpg (its folder must exist) instead of opening a window"
    )
    parser.add_argument(
        "--tile-size",
        type=int_option(MIN_TILE_SIZE, MAX_TILE_SIZE),
        default=256,
        help=f"pixels per picture tile, {MIN_TILE_SIZE}..{MAX_TILE_SIZE} (default: 256)",
    )


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ckpt``, ``--seed``, ``--device``."""
    parser.add_argument(
        "--ckpt", help="Lightning checkpoint of the model; without one, a randomly initialised model (see --seed)"
    )
    parser.add_argument(
        "--seed", type=int_option(0, MAX_SEED), default=0, help="seed of the random model without --ckpt (default: 0)"
    )
    parser.add_argument("--device", default="cpu", help="torch device for the forward pass (default: cpu)")


def model_viewer_parser(prog: str, description: str) -> CommandParser:
    """The parser of a viewer that shows a model on a config's samples: the sample options
    (:func:`add_sample_arguments`) and the model options (:func:`add_model_arguments`)."""
    parser = CommandParser(prog=prog, description=description)
    add_sample_arguments(parser)
    add_model_arguments(parser)
    return parser


def check_index(index: int, size: int, split: str, what: str) -> None:
    """Raise :class:`InputError` unless ``0 <= index < size``."""
    if not 0 <= index < size:
        raise InputError(f"--index {index} is out of range: the {split} split of {what} has {size} samples (0..{size - 1})")


def _check_config_text(config: str) -> None:
    """Refuse a ``--config`` that is not UTF-8 text (a checkpoint or a binary file given by
    mistake), which the YAML reader would meet as a ``UnicodeDecodeError`` traceback."""
    path = Path(config)
    if not path.is_file():
        return  # the config loader names a missing one
    try:
        path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"--config {path}: not a YAML config (not UTF-8 text: byte 0x{error.object[error.start]:02x} at offset "
            f"{error.start})"
        ) from None
    except OSError as error:
        raise InputError(f"--config {path}: cannot read it ({error.strerror or error})") from None


def run_command(parser: argparse.ArgumentParser, command: Callable[[argparse.Namespace], int], argv: Sequence[str] | None) -> int:
    """Parse ``argv`` and run ``command``; user errors (:class:`InputError`, the data loaders'
    ``DataError``, a config pointea refuses (``ConfigError``), asking for a window without a
    display, a checkpoint that is missing or of another task (``CheckpointError``), a ``--config``
    that is not text) become ``parser.error`` (one line on stderr, exit status 2)."""
    args = parser.parse_args(argv)
    try:
        if getattr(args, "save", None) is not None:
            args.save = check_save_path(args.save)  # before loading or rendering anything
        elif hasattr(args, "save") and not has_display():
            raise InputError(NO_DISPLAY)  # before loading anything
        if getattr(args, "config", None) is not None:
            _check_config_text(args.config)
        return command(args)
    except (InputError, DataError, ConfigError, CheckpointError) as error:
        parser.error(str(error).replace("\n", " "))
    return 2  # not reached: parser.error exits
