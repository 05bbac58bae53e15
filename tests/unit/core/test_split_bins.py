"""``SplitBins.distinct``: the dense path (few possible bin vectors) groups rows as the
sorting path does."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xgboost as xgb

from services.core.contract import FeatureSpec, FeatureType
from services.core.split_bins import GROUPING_FACTOR, SplitBins

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


def test_the_bound_on_bin_vectors_counts_missing_intervals_and_levels() -> None:
    rng = np.random.default_rng(1)
    x = np.column_stack([rng.random(2_000), rng.integers(0, 3, 2_000)]).astype(np.float32)
    y = (x[:, 0] + 0.2 * x[:, 1] > 0.8).astype(np.float32)
    matrix = xgb.DMatrix(x, y, feature_types=["q", "c"], enable_categorical=True)
    booster = xgb.train({"max_depth": 3, "max_cat_to_onehot": 1}, matrix, 5)
    features = [
        FeatureSpec(name="a", type=FeatureType.NUMERIC),
        FeatureSpec(name="b", type=FeatureType.CATEGORICAL, levels=["x", "y", "z"]),
    ]
    bins = SplitBins.from_booster_json(booster.save_raw("json"), features)
    cuts = bins.thresholds[0]
    assert cuts is not None
    assert len(cuts) > 1
    assert bins.combinations == (len(cuts) + 2) * (3 + 3)
    first, _ = bins.distinct(x)
    assert len(first) <= bins.combinations  # a bound on the groups rows actually form
    assert bins.few_groups(int(bins.combinations) * GROUPING_FACTOR)
    assert not bins.few_groups(int(bins.combinations) * GROUPING_FACTOR - 1)


def test_bins_built_without_a_bound_never_group() -> None:
    bins = SplitBins([np.array([0.5], dtype=np.float32)])
    assert bins.combinations == math.inf
    assert not bins.few_groups(10**9)


@pytest.mark.parametrize("count", [1, 34, 300])  # comparisons up to COMPARE_CUTS, else search
def test_bins_count_thresholds_as_a_sorted_search_does(count: int) -> None:
    rng = np.random.default_rng(count)
    cuts = np.unique(rng.normal(size=count).astype(np.float32))
    x = rng.normal(size=20_000).astype(np.float32)
    x[::5] = cuts[rng.integers(0, len(cuts), len(x[::5]))]  # exactly on a threshold
    x[1::97], x[2::89], x[3::83] = np.nan, np.inf, -np.inf
    got = SplitBins([cuts]).bins(x.reshape(-1, 1))[:, 0]
    expected = np.where(np.isnan(x), 0, np.searchsorted(cuts, x, side="right") + 1)
    assert np.array_equal(got, expected)


def test_keys_number_bin_vectors_the_same_way_in_every_call() -> None:
    cuts = np.array([0.1, 0.5, 0.9], dtype=np.float32)
    bins = SplitBins([cuts, None], combinations=(3 + 2) * (2 + 3), radix=(5, 5))
    a = np.array([[0.2, 0.0], [np.nan, 1.0], [0.95, np.nan]])
    b = np.array([[0.95, np.nan], [0.3, 0.0]])
    ka, kb = bins.keys(a), bins.keys(b)
    assert ka is not None
    assert kb is not None
    assert ka[2] == kb[0]  # same bins, same key, whatever the other rows
    assert ka[0] == kb[1]
    assert len(set(ka.tolist())) == 3
    assert bins.keys(np.array([[0.2, 7.0]])) is None  # a code past the numbering
    assert SplitBins([cuts, None]).keys(a) is None  # no fixed numbering known
