"""argparse types for the viewer commands' numeric options: each value is checked as it is parsed,
so a bad one ends the command with argparse's one ``error:`` line naming the option, the allowed
range and the value given, before anything is loaded or rendered.

Light on purpose (no open3d, torch or pointea imports), so every command can use it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["int_option"]


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
