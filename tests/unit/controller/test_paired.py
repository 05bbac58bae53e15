"""Paired figures (``controller.rollout.paired``): Wilson bound, flips, band matrix,
histogram bins and PSI, computed from Prometheus-shaped vectors."""

from __future__ import annotations

import math

import pytest

from controller.rollout.paired import (
    EPSILON,
    band_matrix,
    bins,
    figures,
    flip_gate,
    flips,
    psi,
    wilson,
    wilson_upper,
)
from controller.rollout.readings import PairedReadings

pytestmark = pytest.mark.unit


def decisions(same: float, flipped: float) -> tuple[tuple[dict[str, str], float], ...]:
    """``same`` agreeing pairs and ``flipped`` flips, split over both outcomes."""
    return (
        ({"baseline_outcome": "default", "outcome": "default"}, same / 2),
        ({"baseline_outcome": "no_default", "outcome": "no_default"}, same / 2),
        ({"baseline_outcome": "default", "outcome": "no_default"}, flipped / 2),
        ({"baseline_outcome": "no_default", "outcome": "default"}, flipped / 2),
    )


def buckets(*cumulative: float) -> tuple[tuple[dict[str, str], float], ...]:
    edges = ["0.25", "0.5", "0.75", "+Inf"]
    return tuple(({"le": le}, value) for le, value in zip(edges, cumulative, strict=True))


@pytest.mark.parametrize(
    ("successes", "n", "confidence", "expected"),
    [
        (0, 500, 0.95, 0.00762),  # z² / (n + z²): no flip seen still bounds the rate
        (5, 500, 0.95, 0.02321),
        (50, 100, 0.95, 0.59617),
        (10, 1000, 0.99, 0.02193),
        (100, 100, 0.95, 1.0),
    ],
)
def test_wilson_upper_bound_known_values(
    successes: float, n: float, confidence: float, expected: float
) -> None:
    assert wilson_upper(successes, n, confidence) == pytest.approx(expected, abs=5e-5)


@pytest.mark.parametrize(
    ("successes", "n", "expected"),
    [(0, 500, 0.0), (5, 500, 0.00428), (50, 100, 0.40383), (100, 100, 0.96301)],
)
def test_wilson_lower_bound_known_values(successes: float, n: float, expected: float) -> None:
    lower, upper = wilson(successes, n, 0.95)
    assert lower == pytest.approx(expected, abs=5e-5)
    assert upper == wilson_upper(successes, n, 0.95)


def test_wilson_upper_bound_edges() -> None:
    assert wilson(0, 0, 0.95) == (0.0, 1.0)  # nothing seen: nothing vouched for
    assert wilson_upper(0, 0, 0.95) == 1.0
    assert wilson_upper(3, 200, 0.95) > 3 / 200  # always above the observed rate
    assert wilson_upper(3, 200, 0.99) > wilson_upper(3, 200, 0.95)
    assert wilson_upper(3, 2000, 0.95) < wilson_upper(3, 200, 0.95)


def test_flips_count_only_changed_outcomes() -> None:
    assert flips(decisions(90, 10)) == (100, 10)
    assert flips(()) == (0, 0)
    missing = (({"outcome": "default"}, 4.0),)  # no baseline label: a flip, never hidden
    assert flips(missing) == (4.0, 4.0)


def test_band_matrix_rounds_and_drops_empty_cells() -> None:
    vector = (
        ({"baseline_band": "A", "band": "A"}, 40.2),
        ({"baseline_band": "A", "band": "B"}, 2.6),
        ({"baseline_band": "B", "band": "B"}, 0.3),
        ({"baseline_band": "B", "band": "C"}, 7.0),
    )
    assert band_matrix(vector) == {"A": {"A": 40, "B": 3}, "B": {"C": 7}}
    assert band_matrix(()) == {}


def test_bins_difference_cumulative_buckets_in_le_order() -> None:
    shuffled = tuple(reversed(buckets(10, 30, 60, 100)))
    assert bins(shuffled) == [10, 20, 30, 40]
    assert bins(buckets(10, 10, 10, 10)) == [10, 0, 0, 0]
    assert bins(()) == []


def test_psi_of_identical_and_shifted_distributions() -> None:
    assert psi([10, 20, 30, 40], [1, 2, 3, 4]) == pytest.approx(0.0)
    shifted = psi([25, 25, 25, 25], [10, 20, 30, 40])
    expected = sum((a - 0.25) * math.log(a / 0.25) for a in (0.1, 0.2, 0.3, 0.4))
    assert shifted == pytest.approx(expected)
    empty_bin = psi([50, 50], [100, 0])
    assert empty_bin == pytest.approx(
        (1 - 0.5) * math.log(2) + (EPSILON - 0.5) * math.log(EPSILON / 0.5)
    )


@pytest.mark.parametrize(("expected", "actual"), [([], []), ([0, 0], [1, 1]), ([1], [1, 2])])
def test_psi_without_data_is_none(expected: list[float], actual: list[float]) -> None:
    assert psi(expected, actual) is None


def test_figures_from_one_reading() -> None:
    readings = PairedReadings(
        decisions=decisions(490, 10),
        bands=(({"baseline_band": "A", "band": "B"}, 10.0),),
        diff_sum=15.0,
        diff_count=500.0,
        candidate_buckets=buckets(100, 250, 400, 500),
        baseline_buckets=buckets(100, 250, 400, 500),
    )
    found = figures(readings, 0.95)
    assert (found.pairs, found.flips, found.flip_rate) == (500, 10, 0.02)
    assert (found.flip_rate_lower, found.flip_rate_upper) == wilson(10, 500, 0.95)
    assert found.mean_abs_diff == pytest.approx(0.03)
    assert found.score_psi == pytest.approx(0.0)
    assert found.bands == {"A": {"B": 10}}


def test_figures_without_data_are_none() -> None:
    found = figures(PairedReadings(), 0.95)
    assert (found.pairs, found.flips) == (0, 0)
    assert found.flip_rate is found.flip_rate_lower is found.flip_rate_upper is None
    assert found.mean_abs_diff is found.score_psi is None
    assert figures(PairedReadings(diff_sum=3.0, diff_count=0.0), 0.95).mean_abs_diff is None


# ---------------------------------------------------------------- edges (mutation run 4)
def test_wilson_of_a_single_pair_and_of_counts_past_n() -> None:
    lower, upper = wilson(0, 1, 0.95)
    assert lower == 0.0
    assert 0.5 < upper < 1.0  # one clean pair vouches for little, but for something
    assert wilson(5, 4, 0.95) == wilson(4, 4, 0.95)  # a share above 1 is clamped


def test_band_matrix_keeps_single_applicants_sums_repeats_and_names_missing_bands() -> None:
    cells: tuple[tuple[dict[str, str], float], ...] = (
        ({"baseline_band": "A", "band": "B"}, 1.0),
        ({"baseline_band": "A", "band": "B"}, 2.0),
        ({}, 3.0),
    )
    assert band_matrix(cells) == {"A": {"B": 3}, "?": {"?": 3}}


def test_bins_order_by_le_and_a_bucket_without_le_is_the_last() -> None:
    # cumulative counts read from rates need not be monotone: the order is by ``le`` only
    assert bins([({"le": "2"}, 4.0), ({"le": "1"}, 5.0)]) == [5.0, 0.0]
    assert bins([({}, 10.0), ({"le": "1"}, 5.0)]) == [5.0, 5.0]


def test_psi_of_a_single_count_and_of_an_empty_actual() -> None:
    assert psi([1.0, 0.0], [1.0, 0.0]) == pytest.approx(0.0)
    assert psi([1.0, 1.0], [1.0, 0.0]) is not None
    assert psi([2.0, 1.0], [0.0, 1.0]) is not None
    assert psi([1.0, 1.0], [0.0, 0.0]) is None


def test_figures_of_a_single_pair() -> None:
    found = figures(PairedReadings(decisions=decisions(1, 0)), 0.95)
    assert found.flip_rate == 0.0
    assert (found.flip_rate_lower, found.flip_rate_upper) == wilson(0, 1, 0.95)


def test_a_flip_rate_whose_lower_bound_is_the_limit_is_undecided() -> None:
    found = figures(PairedReadings(decisions=decisions(490, 10)), 0.95)
    assert found.flip_rate_lower is not None
    at_limit = flip_gate(found, found.flip_rate_lower)
    assert at_limit.verdict == "Undecided"
    assert flip_gate(found, found.flip_rate_lower * 0.99).verdict == "Failed"


def test_wilson_upper_bound_is_exactly_one_when_every_pair_flipped() -> None:
    # the formula lands a rounding error off 1 for these (e.g. 0.9999999999999999 at 7 of 7)
    assert wilson(7, 7, 0.95)[1] == 1.0
    assert wilson(1000, 1000, 0.99)[1] == 1.0
