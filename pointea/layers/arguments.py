"""Checks of the numbers users give layers and models, where they enter.

A size of 0 or below reaches C++ kernels (``torch_cluster``'s kNN, ``torch.empty``) that crash the
process or fail with messages that name nothing the user typed. Every constructor argument that
is a count, a width or a probability is checked here instead, with a one-line ``ValueError`` that
names the class, the argument and the allowed range.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

__all__ = ["check_count", "check_counts", "check_fraction", "check_optional_count"]


def check_count(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` if it is an integer ``>= minimum``; else a one-line ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_optional_count(owner: str, name: str, value: Any, minimum: int = 1) -> int | None:
    """``None`` (take the default), or an integer ``>= minimum``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{owner}: {name} must be None or an integer >= {minimum}, got {value!r}")
    return int(value)


def check_counts(owner: str, name: str, values: Iterable[Any], minimum: int = 1) -> tuple[int, ...]:
    """``values`` as a tuple if every entry is an integer ``>= minimum``; else a one-line ``ValueError``."""
    values = tuple(values)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
            raise ValueError(f"{owner}: every entry of {name} must be an integer >= {minimum}, got {values!r}")
    return tuple(int(v) for v in values)


def check_fraction(owner: str, name: str, value: Any) -> float:
    """``value`` if it is a probability in ``[0, 1)`` (dropout); else a one-line ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: {name} must be a number in [0, 1), got {value!r}")
    return float(value)
