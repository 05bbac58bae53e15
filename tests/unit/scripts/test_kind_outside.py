"""The kind chaos scenarios' pure checks (tests/kind/outside.py): Events per reason for
one rollout since a time, capacity below the floor, rows exactly once."""

from __future__ import annotations

import pytest

from tests.kind.outside import (
    capacity_drops,
    crash_share,
    job_outcome,
    promotions,
    registered_version,
    rollback_reason,
    rows_exactly_once,
)

pytestmark = pytest.mark.unit


def ev(name: str, reason: str, at: str, count: int = 1, kind: str = "ModelRollout") -> dict:
    return {
        "involvedObject": {"kind": kind, "name": name},
        "reason": reason,
        "lastTimestamp": at,
        "count": count,
    }


def test_promotions_count_one_rollout_since_a_time() -> None:
    events = [
        ev("r", "Promoted", "2026-12-05T01:00:00Z"),  # an earlier attempt
        ev("r", "Promoting", "2026-12-05T02:00:00Z"),
        ev("r", "Promoted", "2026-12-05T02:01:00Z"),
        ev("other", "Promoted", "2026-12-05T02:01:00Z"),
        ev("r", "Promoted", "2026-12-05T02:01:00Z", kind="Deployment"),
    ]
    said = promotions(events, "r", since="2026-12-05T02:00:00Z")
    assert (said["Promoting"], said["Promoted"]) == (1, 1)
    assert promotions(events, "r")["Promoted"] == 2


def test_promotions_count_a_repeated_event_by_its_count() -> None:
    assert promotions([ev("r", "Promoted", "2026-12-05T02:00:00Z", count=2)], "r")["Promoted"] == 2


def test_capacity_drops() -> None:
    samples = [(1.0, 4, 4), (2.0, 5, 4), (3.0, 3, 4)]
    assert capacity_drops(samples) == [(3.0, 3, 4)]


@pytest.mark.parametrize(
    ("rows", "total", "want"),
    [
        ([1, 2, 3], 3, (3, 0, 0)),
        ([3, 1, 2], 3, (3, 0, 0)),
        ([1, 2, 2], 3, (3, 1, 1)),
        ([1, 2], 3, (2, 0, 1)),
        ([1, 2, 3, 3], 3, (4, 1, 0)),
    ],
)
def test_rows_exactly_once(rows: list[int], total: int, want: tuple[int, int, int]) -> None:
    assert rows_exactly_once(rows, total) == want


def test_crash_share() -> None:
    failures = [(9.5, 502, ""), (10.5, 502, ""), (20.0, 0, ""), (40.0, 503, "")]
    inside, outside = crash_share(failures, down=10.0, up=16.0)
    assert [f[0] for f in inside] == [9.5, 10.5, 20.0]
    assert [f[0] for f in outside] == [40.0]


def test_registered_version_is_read_from_the_summary_line() -> None:
    log = "\n".join(
        [
            '{"level": "info", "message": "registered models:/credit-default/7"}',
            '{"model_name": "credit-default", "version": "7", "uri": "models:/credit-default/7"}',
            "",
        ]
    )
    assert registered_version(log) == 7


def test_registered_version_fails_without_a_summary() -> None:
    with pytest.raises(ValueError, match="no training summary"):
        registered_version('{"level": "error", "message": "boom"}\nTraceback ...')


def test_job_outcome() -> None:
    assert job_outcome({"status": {"active": 1}}) is None
    assert job_outcome({"status": {"succeeded": 1}}) == "succeeded"
    failed = {"status": {"failed": 2, "conditions": [{"type": "Failed", "status": "True"}]}}
    assert job_outcome(failed) == "failed"
    # a failed pod the Job retries is no outcome yet
    assert job_outcome({"status": {"failed": 1, "active": 1}}) is None


def test_rollback_reason_from_the_promoted_condition() -> None:
    status = {
        "phase": "Failed",
        "conditions": [
            {"type": "Paused", "status": "False", "reason": "Resumed", "message": ""},
            {
                "type": "Promoted",
                "status": "False",
                "reason": "FailedChecks",
                "message": "failed check 2/2: featurePSI 2.27 > max 0.2",
            },
        ],
    }
    assert rollback_reason(status) == (
        "FailedChecks",
        "failed check 2/2: featurePSI 2.27 > max 0.2",
    )
    promoted = {"conditions": [{"type": "Promoted", "status": "True", "reason": "Promoted"}]}
    assert rollback_reason(promoted) == ("", "")
