"""ShapeNetPart part labels as the viewers colour them (its conventions)."""

from __future__ import annotations

import numpy as np
import pytest

from pointea.data import ShapeNetPart
from visualize.loading import category_parts, local_parts

TABLE = ShapeNetPart.CATEGORIES.index("Table")


def test_category_parts_are_the_standard_ranges() -> None:
    np.testing.assert_array_equal(category_parts(0), [0, 1, 2, 3])  # Airplane
    np.testing.assert_array_equal(category_parts(TABLE), [47, 48, 49])
    assert sum(len(category_parts(c)) for c in range(len(ShapeNetPart.CATEGORIES))) == ShapeNetPart.NUM_PARTS


def test_local_parts_index_the_categorys_own_parts() -> None:
    np.testing.assert_array_equal(local_parts(np.array([49, 47, 48, 47]), TABLE), [2, 0, 1, 0])
    np.testing.assert_array_equal(local_parts(np.array([3, 0]), 0), [3, 0])
    with pytest.raises(ValueError, match="Table's parts"):
        local_parts(np.array([47, 3]), TABLE)  # an airplane part on a table
