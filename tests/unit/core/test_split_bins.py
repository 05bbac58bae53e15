"""``SplitBins.distinct``: the dense path (few possible bin vectors) groups rows as the
sorting path does."""

from __future__ import annotations

import numpy as np
import pytest

from services.core.split_bins import SplitBins

pytestmark = pytest.mark.unit


def test_dense_and_sorted_grouping_agree() -> None:
    rng = np.random.default_rng(3)
    cuts = np.array([0.1, 0.5, 0.9, 2.0], dtype=np.float32)
    bins = SplitBins([cuts, None, cuts])
    encoded = np.column_stack(
        [rng.random(5_000) * 3, rng.integers(0, 3, 5_000).astype(float), rng.random(5_000)]
    )
    encoded[::17, 0] = np.nan
    first, inverse = bins.distinct(encoded)  # few combinations: the dense path
    table = bins.bins(encoded)
    assert (table[first][inverse] == table).all()  # each row's representative: same bins
    keys = np.unique(table, axis=0, return_inverse=True)[1].reshape(-1)
    assert len(first) == len(np.unique(table, axis=0))  # one group per distinct bin vector
    assert len(set(zip(inverse.tolist(), keys.tolist(), strict=True))) == len(first)
