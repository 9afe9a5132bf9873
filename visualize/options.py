"""The viewer commands' argument parser and the argparse types of their numeric options: each value
is checked as it is parsed, so a bad one ends the command with one ``error:`` line naming the
option, the allowed range and the value given, before anything is loaded or rendered.

Light on purpose (no open3d, torch or pointea imports), so every command can use it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["CommandParser", "int_option"]


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
