"""The kind chaos scenarios' pure checks (tests/kind/outside.py): Events per reason for
one rollout since a time, capacity below the floor, rows exactly once."""

from __future__ import annotations

import pytest

from tests.kind.outside import capacity_drops, crash_share, promotions, rows_exactly_once

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
