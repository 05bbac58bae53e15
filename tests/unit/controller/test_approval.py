"""Sign-off (``canary.approval``): hold, approve with the approver recorded, abort, and the
analysis that goes on while a promotion waits for its sign-off."""

from __future__ import annotations

import json

import pytest

from controller.rollout import approval
from controller.rollout.actions import ClearOperatorAction, EmitEvent, SetWeight, TagVersion
from controller.rollout.decision import Decision, decide
from controller.rollout.progress import analysis_due
from controller.rollout.transitions import Tick
from controller.status import Approval, ApprovalPoint, Phase, RolloutStatus
from tests.unit.controller.factories import (
    CANDIDATE_URI,
    NOW,
    ago,
    metrics,
    readings,
    spec,
    status,
    workload,
)

pytestmark = pytest.mark.unit

BOTH = {"canary": {"steps": [10, 50], "approval": {"beforeTraffic": True, "beforePromotion": True}}}


def _events(decision: Decision) -> list[str]:
    return [a.reason for a in decision.actions if isinstance(a, EmitEvent)]


def _awaiting(point: ApprovalPoint, **overrides: object) -> RolloutStatus:
    weight = {"canary_weight": 50, "step": 1} if point == "beforePromotion" else {}
    values = {"awaiting": point, "last_analysis_time": ago(60), **weight, **overrides}
    return status(Phase.AWAITING_APPROVAL, **values)


def test_a_ready_canary_waits_for_the_sign_off_before_any_traffic() -> None:
    ready = readings(canary=workload(CANDIDATE_URI, 1))
    d = decide(spec(**BOTH), status(Phase.INITIALIZING), ready, NOW)
    assert d.status.phase is Phase.AWAITING_APPROVAL
    assert d.status.awaiting == "beforeTraffic"
    assert d.status.canary_weight == 0
    assert not [a for a in d.actions if isinstance(a, SetWeight)]
    assert _events(d) == ["AwaitingApproval"]


def test_without_approval_the_canary_goes_straight_to_its_first_step() -> None:
    d = decide(spec(canary={"steps": [10, 50]}), status(Phase.INITIALIZING), readings(), NOW)
    assert d.status.phase is Phase.PROGRESSING
    assert SetWeight(10) in d.actions


def test_waiting_posts_no_event_again_and_moves_nothing() -> None:
    d = decide(spec(**BOTH), _awaiting("beforeTraffic"), readings(), NOW)
    assert d.status.phase is Phase.AWAITING_APPROVAL
    assert d.actions == ()


def test_approve_records_who_and_when_then_takes_the_first_step() -> None:
    r = readings(action="approve", action_by="alice@bank.example")
    d = decide(spec(**BOTH), _awaiting("beforeTraffic"), r, NOW)
    assert d.status.phase is Phase.PROGRESSING
    assert d.status.canary_weight == 10
    assert d.status.approvals == [
        Approval(point="beforeTraffic", version="8", by="alice@bank.example", at=NOW)
    ]
    assert d.status.awaiting is None
    assert (d.status.last_action, d.status.last_action_by) == ("approve", "alice@bank.example")
    assert SetWeight(10) in d.actions
    assert ClearOperatorAction() in d.actions
    tag = next(a for a in d.actions if isinstance(a, TagVersion))
    assert json.loads(tag.tags["rollout.approval.beforeTraffic"])["by"] == "alice@bank.example"
    assert tag.best_effort
    assert _events(d) == ["Approved", "Progressing"]


def test_an_approval_without_the_admission_policy_is_recorded_as_unknown() -> None:
    d = decide(spec(**BOTH), _awaiting("beforeTraffic"), readings(action="approve"), NOW)
    assert d.status.approvals[0].by == "unknown"


def test_approve_outside_a_wait_is_ignored_with_a_warning() -> None:
    d = decide(spec(**BOTH), status(Phase.PROGRESSING), readings(action="approve"), NOW)
    assert d.status.phase is Phase.PROGRESSING
    assert d.status.approvals == []
    assert d.status.last_action == "approve (ignored)"
    assert _events(d) == ["ActionIgnored"]


def test_abort_while_waiting_rolls_back() -> None:
    d = decide(spec(**BOTH), _awaiting("beforeTraffic"), readings(action="abort"), NOW)
    assert d.status.phase is Phase.ROLLING_BACK


def test_the_last_passed_analysis_waits_for_the_promotion_sign_off() -> None:
    last = status(Phase.PROGRESSING, canary_weight=50, step=1, approvals=[_signed("beforeTraffic")])
    d = decide(spec(**BOTH), last, readings(), NOW)
    assert d.status.phase is Phase.AWAITING_APPROVAL
    assert d.status.awaiting == "beforePromotion"
    assert d.status.promotion is None
    assert d.status.canary_weight == 50
    assert _events(d) == ["AwaitingApproval"]


def _signed(point: ApprovalPoint, version: str = "8") -> Approval:
    return Approval(point=point, version=version, by="bob", at=ago(600))


def test_analysis_goes_on_while_the_promotion_waits() -> None:
    waiting = _awaiting("beforePromotion")
    assert analysis_due(spec(**BOTH), waiting, NOW)
    assert not analysis_due(spec(**BOTH), _awaiting("beforeTraffic"), NOW)
    passed = decide(spec(**BOTH), waiting, readings(), NOW)
    assert passed.status.phase is Phase.AWAITING_APPROVAL
    assert passed.status.analysis_count == 1
    assert _events(passed) == []
    bad = readings(metrics=metrics(errorRatio=0.5))
    last_straw = _awaiting("beforePromotion", failed_checks=2)
    failed = decide(spec(**BOTH), last_straw, bad, NOW)
    assert failed.status.phase is Phase.ROLLING_BACK


def test_approving_the_promotion_promotes_and_the_verdict_keeps_both_sign_offs() -> None:
    waiting = _awaiting("beforePromotion", approvals=[_signed("beforeTraffic")])
    r = readings(action="approve", action_by="carol", metrics=None)
    d = decide(spec(**BOTH), waiting, r, NOW)
    assert d.status.phase is Phase.PROMOTING
    assert [a.point for a in d.status.approvals] == ["beforeTraffic", "beforePromotion"]
    assert _events(d) == ["Approved", "Promoting"]
    promoted = decide(
        spec(**BOTH),
        d.status,
        readings(stable=workload(CANDIDATE_URI, 4)),
        NOW,
    )
    tags = next(a for a in promoted.actions if isinstance(a, TagVersion)).tags
    assert json.loads(tags["rollout.approvals"]) == {
        "beforeTraffic": {"by": "bob", "at": ago(600).isoformat(timespec="seconds")},
        "beforePromotion": {"by": "carol", "at": NOW.isoformat(timespec="seconds")},
    }


def test_a_sign_off_counts_for_its_version_only() -> None:
    old = _awaiting("beforeTraffic", approvals=[_signed("beforeTraffic", version="6")])
    d = decide(spec(**BOTH), status(Phase.INITIALIZING, approvals=old.approvals), readings(), NOW)
    assert d.status.phase is Phase.AWAITING_APPROVAL


def test_a_new_candidate_asks_for_a_new_sign_off() -> None:
    signed = status(Phase.PROGRESSING, approvals=[_signed("beforeTraffic")])
    d = decide(spec(**BOTH), signed, readings(candidate_version="9"), NOW)
    assert d.status.phase is Phase.INITIALIZING
    assert d.status.approvals == []


def test_pause_and_resume_keep_the_wait() -> None:
    paused = decide(spec(**BOTH), _awaiting("beforeTraffic"), readings(action="pause"), NOW)
    assert paused.status.phase is Phase.PAUSED
    back = decide(spec(**BOTH), paused.status, readings(action="resume"), NOW)
    assert back.status.phase is Phase.AWAITING_APPROVAL
    assert back.status.awaiting == "beforeTraffic"


TRAFFIC_WAIT = "v8 ready at weight 0: awaiting approval"
PROMOTION_WAIT = "analysis passed at 50%: awaiting approval to promote v8 (analysis goes on)"


def test_each_wait_says_what_it_waits_for_when_it_starts_and_while_it_holds() -> None:
    ready = readings(canary=workload(CANDIDATE_URI, 1))
    start = decide(spec(**BOTH), status(Phase.INITIALIZING), ready, NOW)
    assert start.status.message == TRAFFIC_WAIT
    assert [e.message for e in start.events] == [TRAFFIC_WAIT]
    held = approval.before_traffic(Tick(spec(**BOTH), _awaiting("beforeTraffic"), ready, NOW))
    assert held is not None
    assert held.status.message == TRAFFIC_WAIT
    assert held.actions == ()
    last = status(Phase.PROGRESSING, canary_weight=50, step=1, approvals=[_signed("beforeTraffic")])
    asked = decide(spec(**BOTH), last, readings(), NOW)
    assert asked.status.message == PROMOTION_WAIT
    assert [e.message for e in asked.events] == [PROMOTION_WAIT]
    again = decide(spec(**BOTH), _awaiting("beforePromotion"), readings(), NOW)
    assert again.status.message == PROMOTION_WAIT


def test_a_wait_at_another_point_is_a_new_wait_with_its_event() -> None:
    """Only the same phase at the same point holds quietly: a wait recorded for the other
    point (or a phase other than AwaitingApproval) enters the wait anew."""
    rollout = spec(**BOTH)
    other_point = _awaiting("beforeTraffic", canary_weight=50, step=1)
    tick = Tick(rollout, other_point, readings(), NOW)
    decision = approval.before_promotion(tick)
    assert decision is not None
    assert decision.status.awaiting == "beforePromotion"
    assert _events(decision) == ["AwaitingApproval"]
    stale = status(Phase.PROGRESSING, canary_weight=50, step=1, awaiting="beforePromotion")
    decision = approval.before_promotion(Tick(rollout, stale, readings(), NOW))
    assert decision is not None
    assert decision.status.phase is Phase.AWAITING_APPROVAL
    assert _events(decision) == ["AwaitingApproval"]
