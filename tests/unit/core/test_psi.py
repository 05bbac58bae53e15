from __future__ import annotations

import math

import numpy as np
import pytest

from services.core.contract import Histogram
from services.core.psi import (
    EPSILON,
    SlidingWindowPSI,
    bin_indices,
    categorical_histogram,
    numeric_histogram,
    psi,
    psi_from_counts,
)

pytestmark = pytest.mark.unit


def test_psi_matches_hand_computed_value() -> None:
    hist = Histogram(kind="numeric", edges=[1.0, 2.0], proportions=[0.25, 0.5, 0.25, 0.0])
    # 10 values: 5 below 1, 3 in [1, 2), 2 at or above 2, none missing
    values = np.array([0, 0, 0, 0, 0, 1, 1.5, 1.9, 2, 3], dtype=float)
    actual = [0.5, 0.3, 0.2]
    expected = (
        (0.5 - 0.25) * math.log(0.5 / 0.25)
        + (0.3 - 0.5) * math.log(0.3 / 0.5)
        + (0.2 - 0.25) * math.log(0.2 / 0.25)
    )  # the empty missing bin contributes (eps - eps) * ln(1) = 0
    assert psi(hist, values) == pytest.approx(expected, rel=1e-9)
    assert actual == pytest.approx([0.5, 0.3, 0.2])


def test_empty_bins_are_smoothed_not_infinite() -> None:
    hist = Histogram(kind="numeric", edges=[0.0], proportions=[0.0, 1.0, 0.0])
    value = psi(hist, np.array([-1.0, -2.0]))  # all mass where the reference has none
    expected = (1 - EPSILON) * math.log(1 / EPSILON) + (EPSILON - 1) * math.log(EPSILON / 1)
    assert math.isfinite(value)
    assert value == pytest.approx(expected)


def test_identical_distribution_has_zero_psi() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=5000)
    assert psi(numeric_histogram(values), values) == pytest.approx(0.0, abs=1e-12)


def test_numeric_bins_follow_edges_and_missing_goes_last() -> None:
    hist = Histogram(kind="numeric", edges=[1.0, 2.0], proportions=[0.25, 0.25, 0.25, 0.25])
    idx = bin_indices(hist, np.array([0.5, 1.0, 1.999, 2.0, np.nan]))
    assert idx.tolist() == [0, 1, 1, 2, 3]


def test_categorical_bins_have_unseen_and_missing() -> None:
    hist = categorical_histogram(np.array([0, 0, 1, 2, np.nan]), ["a", "b", "c"])
    assert hist.n_bins == 5
    assert bin_indices(hist, np.array([0, 2, -1, 7, np.nan])).tolist() == [0, 2, 3, 3, 4]
    assert hist.proportions == pytest.approx([0.4, 0.2, 0.2, 0.0, 0.2])


def test_quantile_edges_merge_duplicates() -> None:
    hist = numeric_histogram(np.array([0.0] * 90 + [5.0] * 10))
    assert hist.edges == sorted(set(hist.edges))
    assert sum(hist.proportions) == pytest.approx(1.0)


def test_psi_of_no_observations_is_zero() -> None:
    assert psi_from_counts([0.5, 0.5], np.zeros(2)) == 0.0


@pytest.mark.parametrize("window", [1, 7, 50, 500])
def test_sliding_window_equals_batch_psi_of_last_window(window: int) -> None:
    rng = np.random.default_rng(window)
    ref = rng.normal(size=2000)
    cats = rng.integers(0, 3, size=2000).astype(float)
    hists = [numeric_histogram(ref), categorical_histogram(cats, ["a", "b", "c"])]
    monitor = SlidingWindowPSI(hists, window)
    stream = np.column_stack([rng.normal(0.5, 1.2, size=300), rng.integers(-1, 3, size=300)])
    stream[::17, 0] = np.nan
    seen = 0
    for size in [1, 3, 10, 1, 60, 200, 25]:  # mixed batch sizes, incl. larger than window
        monitor.update(stream[seen : seen + size])
        seen += size
        last = stream[max(0, seen - window) : seen]
        assert monitor.size == len(last)
        expected = [psi(h, last[:, i]) for i, h in enumerate(hists)]
        assert monitor.values() == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_sliding_window_is_defined_from_first_observation() -> None:
    hist = numeric_histogram(np.arange(100.0))
    monitor = SlidingWindowPSI([hist], window=1000)
    assert monitor.values().tolist() == [0.0]
    monitor.update(np.array([[1000.0]]))
    assert monitor.values()[0] > 1.0  # one far-off value already shows up


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"^window must be >= 1$"):
        SlidingWindowPSI([numeric_histogram(np.arange(5.0))], 0)


def test_edges_never_sit_on_a_value_so_rounding_keeps_atoms_in_their_bin() -> None:
    """A tree model's scores are atoms; float32 serving must bin them as float64 training."""
    rng = np.random.default_rng(3)
    atoms = np.array([0.001187, 0.001037, 0.002421, 0.03, 0.2])
    scores = rng.choice(atoms, size=2000, p=[0.4, 0.2, 0.2, 0.1, 0.1])
    scores = np.concatenate([scores, rng.uniform(0, 0.5, size=500)])
    hist = numeric_histogram(scores)
    assert not set(hist.edges) & set(scores.tolist())
    served = scores.astype(np.float32).astype(np.float64)  # what the service computes
    assert psi(hist, served) == pytest.approx(0.0, abs=1e-9)


def test_edges_lie_between_neighbouring_values() -> None:
    hist = numeric_histogram(np.arange(100.0))
    assert all(e % 1 == 0.5 for e in hist.edges)
    assert len(hist.edges) == 9
    assert hist.proportions[:10] == pytest.approx([0.1] * 10)


def test_an_edge_on_a_sample_value_moves_up_to_the_midpoint_with_the_next_value() -> None:
    # the median of 1..5 is the value 3 itself: the edge goes between 3 and 4
    assert numeric_histogram(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), n_bins=2).edges == [3.5]


def test_quantiles_on_the_largest_value_give_no_edge() -> None:
    mostly_one = np.array([0.0] * 2 + [1.0] * 18)
    hist = numeric_histogram(mostly_one)
    assert hist.edges == [0.5]
    assert hist.proportions == [0.1, 0.9, 0.0]


def test_a_reference_with_no_values_has_no_edges_and_no_mass() -> None:
    assert numeric_histogram(np.array([np.nan, np.nan])).edges == []
    assert numeric_histogram(np.array([np.nan, np.nan])).proportions == [0.0, 1.0]
    assert numeric_histogram(np.array([])).proportions == [0.0, 0.0]
