"""Checks of the arguments a user gives the data package, where they enter: every one lives here.

Each user-facing number (points per cloud, batch size, workers, synthetic sizes, seeds, network
timeouts) and each named choice (split, layout, augmentation, sampling, variant, missing-file
policy) is checked once, at the door: the data modules' and datasets' constructors and the
``pointea-data`` options. A bad value is one message naming the argument, the allowed range or
choices and the value given, instead of a crash (or a silent misbehaviour) deep inside numpy, a
DataLoader or a socket.
"""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = [
    "MAX_POINTS",
    "MAX_BATCH_SIZE",
    "MAX_WORKERS",
    "MAX_SYNTHETIC_PER_LABEL",
    "MAX_SEED",
    "check_choice",
    "check_int",
    "check_seconds",
    "int_option",
    "seconds_option",
]

#: Points served per cloud (the archives store 2048; more are repeats).
MAX_POINTS = 1_000_000
#: Shapes per batch.
MAX_BATCH_SIZE = 100_000
#: DataLoader worker processes.
MAX_WORKERS = 256
#: Synthetic shapes per class (or category) and split; 10000 x 12 classes of 2048 points is 2.9 GB.
MAX_SYNTHETIC_PER_LABEL = 10_000
#: Seeds (numpy's SeedSequence takes any non-negative integer; 32 bits is the usual range).
MAX_SEED = 2**32 - 1


Choice = TypeVar("Choice")


def check_choice(
    name: str, value: Choice, choices: Sequence[Choice], error: type[Exception] = ValueError
) -> Choice:
    """``value`` when it is one of ``choices``; else ``error`` (:class:`ValueError` for arguments,
    :class:`~pointea.errors.DataError` where a data set names what it holds) naming ``name``, the
    choices and the value given."""
    if value not in choices:
        raise error(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return value


def check_int(name: str, value: object, low: int, high: int) -> int:
    """``value`` as an ``int`` when it is an integer in ``low..high``; else :class:`ValueError`
    naming ``name`` (booleans are refused: ``True`` is not a point count)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer in {low}..{high}, got {value}")
    return int(value)


def check_seconds(name: str, value: object, high: float) -> float:
    """``value`` as a ``float`` when it is a finite number of seconds in ``(0, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number of seconds in (0, {high:g}], got {value!r}")
    if not (math.isfinite(value) and 0 < value <= high):
        raise ValueError(f"{name} must be a number of seconds in (0, {high:g}], got {value}")
    return float(value)


def int_option(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: an integer in ``low..high`` (argparse names the option)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            message = f"must be an integer in {low}..{high}, got {text!r}"
            raise argparse.ArgumentTypeError(message) from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer in {low}..{high}, got {value}")
        return value

    return parse


def seconds_option(high: float) -> Callable[[str], float]:
    """An argparse ``type``: a finite number of seconds in ``(0, high]``."""

    def parse(text: str) -> float:
        try:
            return check_seconds("the value", float(text), high)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"must be a number of seconds in (0, {high:g}], got {text!r}"
            ) from None

    return parse
