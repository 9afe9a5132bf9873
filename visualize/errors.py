"""The error the commands report as a one-line ``error:`` (argparse style) instead of a traceback."""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(Exception):
    """Bad input from the user: a missing file, an index out of range, a checkpoint of the other
    task. The message is one line saying what is wrong and, where it helps, what to do."""
