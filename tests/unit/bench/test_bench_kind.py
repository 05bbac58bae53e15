"""bench/kind/bench_kind.py reads the kind run's step times and the ModelRollout watch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.kind.bench_kind import phase_spans, read_steps

pytestmark = pytest.mark.unit


def status(
    phase: str, started: str, since: str, history: list[dict[str, str]] | None = None
) -> dict:  # type: ignore[type-arg]
    return {
        "type": "MODIFIED",
        "object": {
            "status": {
                "phase": phase,
                "startedAt": started,
                "phaseSince": since,
                "candidateUri": "models:/m/3",
                "message": "m",
                "history": history or [],
            }
        },
    }


def test_spans_take_the_first_status_of_each_final_phase() -> None:
    events = [
        status("Progressing", "2026-12-04T22:00:00Z", "2026-12-04T22:01:00Z"),
        status("Succeeded", "2026-12-04T22:00:00Z", "2026-12-04T22:05:00Z"),
        status("Succeeded", "2026-12-04T22:00:00Z", "2026-12-04T22:09:00Z"),
        status(
            "Failed",
            "2026-12-04T22:10:00Z",
            "2026-12-04T22:13:00Z",
            [
                {"time": "2026-12-04T22:04:00Z", "verdict": "Failed"},  # an earlier attempt
                {"time": "2026-12-04T22:12:30Z", "verdict": "Failed"},
                {"time": "2026-12-04T22:12:00Z", "verdict": "Failed"},
                {"time": "2026-12-04T22:11:00Z", "verdict": "Passed"},
            ],
        ),
    ]
    spans = phase_spans(events)
    assert spans["Succeeded"]["seconds"] == 300.0
    assert spans["Failed"]["seconds"] == 180.0
    assert spans["Failed"]["first_failed_analysis_to_failed_s"] == 60.0


def test_read_steps(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("kind-up\t90.5\nimages\t20.0\n\n")
    assert read_steps(path) == {"kind-up": 90.5, "images": 20.0}


def test_watch_read_one_a_line_or_pretty_printed() -> None:
    from bench.kind.bench_kind import read_watch

    docs = [{"type": "ADDED", "object": {"a": 1}}, {"type": "MODIFIED", "object": {"a": 2}}]
    lines = "\n".join(json.dumps(d) for d in docs) + "\n"
    pretty = "".join(json.dumps(d, indent=4) + "\n" for d in docs)
    assert read_watch(lines) == docs
    assert read_watch(pretty) == docs
    assert read_watch("") == []


def test_junit_scenarios_with_outcomes() -> None:
    from bench.kind.bench_kind import read_junit

    xml = (
        '<testsuites><testsuite name="pytest">'
        '<testcase classname="tests.kind.test_batch" name="test_a" time="12.34"/>'
        '<testcase classname="tests.kind.test_rollout" name="test_b" time="300">'
        '<failure message="boom">x</failure></testcase>'
        "</testsuite></testsuites>"
    )
    assert read_junit(xml) == [
        {"scenario": "test_batch::test_a", "seconds": 12.3, "outcome": "passed"},
        {"scenario": "test_rollout::test_b", "seconds": 300.0, "outcome": "failed"},
    ]
