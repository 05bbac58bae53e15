"""Operator actions by annotation: what each records, and how an action that makes no sense
is refused (through ``decide``, pure)."""

from __future__ import annotations

from typing import Any

import pytest

from controller.rollout import Decision, decide
from controller.rollout.actions import ClearOperatorAction, EmitEvent, TagVersion
from controller.rollout.transitions import PROMOTED
from controller.status import Phase
from tests.unit.controller.factories import NAME, NOW, ago, readings, spec, status

pytestmark = pytest.mark.unit

P = Phase
SPEC = spec()
BOTH = spec(
    canary={"steps": [10, 50], "approval": {"beforeTraffic": True, "beforePromotion": True}}
)


def act(action: str, phase: Phase = P.PROGRESSING, rollout: Any = SPEC, **kw: Any) -> Decision:
    return decide(rollout, status(phase, **kw), readings(action=action, action_by="alice"), NOW)


def test_an_approval_signs_the_version_it_was_given_for() -> None:
    decision = act("approve", P.AWAITING_APPROVAL, BOTH, awaiting="beforeTraffic")
    (signed,) = decision.status.approvals
    assert (signed.point, signed.version, signed.by) == ("beforeTraffic", "8", "alice")
    (tag,) = [a for a in decision.actions if isinstance(a, TagVersion)]
    assert (tag.model_name, tag.version, tag.best_effort) == (NAME, "8", True)
    assert EmitEvent("Approved", "beforeTraffic sign-off for v8 by alice") in decision.events


def test_an_approval_before_promotion_says_who_promoted() -> None:
    waiting = {"awaiting": "beforePromotion", "canary_weight": 50, "step": 1}
    decision = act("approve", P.AWAITING_APPROVAL, BOTH, last_analysis_time=ago(1), **waiting)
    assert decision.status.phase is P.PROMOTING
    assert decision.status.message == "approved by alice: promoting v8"


@pytest.mark.parametrize(
    ("phase", "awaiting"),
    [(P.AWAITING_APPROVAL, None), (P.PROGRESSING, "beforeTraffic")],
    ids=["awaiting-nothing", "not-awaiting-approval"],
)
def test_an_approval_nothing_waits_for_is_ignored(phase: Phase, awaiting: Any) -> None:
    decision = act("approve", phase, BOTH, awaiting=awaiting)
    assert decision.status.phase is phase
    assert decision.status.approvals == []
    assert decision.status.last_action == "approve (ignored)"


def test_a_promotion_and_an_abort_say_that_the_operator_asked() -> None:
    promoted = act("promote")
    assert promoted.status.message == "promote requested: promoting v8"
    aborted = act("abort")
    assert aborted.status.message == "rolling back: aborted by operator"
    reason = aborted.status.condition(PROMOTED)
    assert reason is not None
    assert (reason.reason, reason.message) == ("Aborted", "aborted by operator")


@pytest.mark.parametrize("phase", [P.PROMOTING, P.ROLLING_BACK, P.SUCCEEDED, P.FAILED])
def test_a_pause_is_ignored_where_nothing_can_be_paused(phase: Phase) -> None:
    decision = act("pause", phase, canary_weight=0)
    assert decision.status.phase is phase
    assert decision.status.paused_by is None


def test_an_ignored_action_warns_why_and_records_who_asked() -> None:
    decision = act("resume")
    assert decision.status.last_action == "resume (ignored)"
    assert decision.status.last_action_by == "alice"
    why = "action 'resume' ignored in phase Progressing"
    assert decision.actions == (ClearOperatorAction(), EmitEvent("ActionIgnored", why, "Warning"))


def test_an_unknown_action_lists_the_known_ones() -> None:
    (event,) = act("yolo").events
    known = "approve, promote, abort, retry, pause, resume"
    assert event == EmitEvent(
        "ActionIgnored", f"unknown action 'yolo' (use one of {known})", "Warning"
    )
