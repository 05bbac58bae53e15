"""The building blocks of decisions: elapsed time, conditions, phase changes, the canary's
HPA share and the status of a fresh attempt (pure)."""

from __future__ import annotations

import pytest

from controller.rollout import decide
from controller.rollout.transitions import (
    CONTRACT,
    PROMOTED,
    Tick,
    canary_bounds,
    with_condition,
)
from controller.spec import AutoscalingSpec
from controller.status import Phase, Promotion
from tests.unit.controller.factories import NOW, ago, readings, spec, status

pytestmark = pytest.mark.unit

P = Phase


def test_time_since_an_unknown_start_is_zero() -> None:
    tick = Tick(spec(), status(), readings(), NOW)
    assert tick.elapsed(None) == 0.0
    assert tick.elapsed(ago(90)) == 90.0


def test_a_condition_carries_the_generation_and_a_bounded_message() -> None:
    seen = status(observed_generation=4)
    updated = with_condition(seen, PROMOTED, "False", "FailedChecks", "x" * 2000, NOW)
    found = updated.condition(PROMOTED)
    assert found is not None
    assert found.observed_generation == 4
    assert found.message == "x" * 1024


def test_a_phase_change_restarts_the_phase_clock() -> None:
    decision = decide(spec(), status(P.PENDING, phase_since=ago(300)), readings(), NOW)
    assert decision.status.phase is P.INITIALIZING
    assert decision.status.phase_since == NOW


@pytest.mark.parametrize(
    ("low", "high", "weight", "bounds"),
    [
        (2, 10, 5, (1, 1)),
        (2, 10, 50, (1, 5)),
        (10, 10, 50, (5, 5)),
        (3, 3, 67, (3, 3)),  # 2.01 replicas round up, never down
        (1, 3, 67, (1, 3)),
    ],
)
def test_the_canary_gets_its_weights_share_of_the_stable_bounds_rounded_up(
    low: int, high: int, weight: int, bounds: tuple[int, int]
) -> None:
    stable = AutoscalingSpec(min_replicas=low, max_replicas=high)
    assert canary_bounds(stable, weight) == bounds


def test_a_new_candidate_starts_from_a_clean_slate() -> None:
    held = Promotion(stable_hpa="inference", original_min=2, held_min=5)
    old = status(
        P.PAUSED,
        canary_version="6",
        candidate_uri="models:/credit-default/6",
        inconclusive_count=2,
        unreachable_count=1,
        canary_not_ready_since=ago(30),
        paused_from=P.PROGRESSING,
        paused_by="annotation",
        promotion=held,
        awaiting="beforePromotion",
    )
    rollout = spec(model={"uri": "models:/credit-default@champion-next"})
    fresh = decide(rollout, old, readings(), NOW).status
    assert fresh.phase is P.INITIALIZING
    assert fresh.candidate_uri == "models:/credit-default@champion-next"
    assert (fresh.inconclusive_count, fresh.unreachable_count, fresh.retries) == (0, 0, 0)
    assert fresh.canary_not_ready_since is None
    assert (fresh.paused_from, fresh.paused_by) == (None, None)
    assert fresh.promotion is None
    assert fresh.awaiting is None
    promoted, contract = fresh.condition(PROMOTED), fresh.condition(CONTRACT)
    assert promoted is not None
    assert contract is not None
    assert (promoted.status, promoted.reason, promoted.message) == (
        "False",
        "Progressing",
        "rolling out v8",
    )
    assert (contract.status, contract.reason, contract.message) == ("Unknown", "NotChecked", "")
