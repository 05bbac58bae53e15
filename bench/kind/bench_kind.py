"""Kind benchmark (issue 14): the platform on a real kind cluster, offline profile.

Reads what one run of ``make test-kind`` (scripts/kind/test.sh) and the kind e2e left
behind; it starts no cluster itself (a cluster run takes 10-20 min of a shared machine):

- **cluster create → first prediction**: the step times of scripts/kind/test.sh
  (.cache/kind/test-times.tsv: kind-up, images, kind-load, deploy); deploy ends with
  the first champion served and ``helm test`` passed, so the sum is create → the first
  prediction through the Service (the gateway answers within the same second);
- **promotion** and **rollback**: the ModelRollout's own timestamps in a watch of it
  taken during ``make e2e-kind`` (``kubectl get mro -w -o json --output-watch-events``):
  ``startedAt`` → ``phaseSince`` of phase Succeeded (v2) and of phase Failed (v3), and,
  for the rollback, the first failed analysis → Failed;
- beside them the local harness's figures (bench/results/rollout.json);
- **per scenario**: each kind test's wall time from the JUnit file test.sh writes
  (.cache/kind/pytest.xml), with its outcome, and the whole run (every step summed),
  beside the 75-minute CI budget less the ~47 min the rest of ``make test`` takes.

Run: flock /tmp/bench.lock python3 bench/kind/bench_kind.py --steps TSV --watch JSON \
  [--junit XML]  (the watch: ``kubectl get mro -w -o json --output-watch-events``, JSON
  documents one after another, one a line or pretty-printed)
Results: bench/results/kind.json and kind.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import RESULTS, write_results

STEPS = ("kind-up", "images", "kind-load", "deploy")
CI_BUDGET_S = 75 * 60
REST_OF_MAKE_TEST_S = 47 * 60  # make test without the kind scenarios (the lead, 2026-12-05; was 40)


def read_watch(text: str) -> list[dict[str, Any]]:
    """The JSON documents of a watch, whether one a line or pretty-printed back to back."""
    decoder = json.JSONDecoder()
    docs: list[dict[str, Any]] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return docs
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)


def read_junit(text: str) -> list[dict[str, Any]]:
    """(scenario, seconds, outcome) of each test case of a pytest JUnit file."""
    cases = []
    for case in ET.fromstring(text).iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        module = case.get("classname", "").rsplit(".", 1)[-1]
        cases.append(
            {
                "scenario": f"{module}::{case.get('name', '')}",
                "seconds": round(float(case.get("time", 0)), 1),
                "outcome": outcome,
            }
        )
    return cases


def read_steps(path: Path) -> dict[str, float]:
    steps: dict[str, float] = {}
    for line in path.read_text().splitlines():
        if "\t" in line:
            name, seconds = line.split("\t", 1)
            steps[name] = float(seconds)
    return steps


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def phase_spans(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """For each final phase seen (Succeeded, Failed): the status that reached it first in
    the watch, with startedAt → phaseSince seconds and the candidate it was about."""
    spans: dict[str, dict[str, Any]] = {}
    for event in events:
        status = (event.get("object") or {}).get("status") or {}
        phase = status.get("phase")
        if phase not in ("Succeeded", "Failed") or phase in spans:
            continue
        if not (status.get("startedAt") and status.get("phaseSince")):
            continue
        span = {
            "candidate": status.get("candidateUri"),
            "seconds": round(
                (_at(status["phaseSince"]) - _at(status["startedAt"])).total_seconds(), 1
            ),
            "message": status.get("message", ""),
        }
        started = _at(status["startedAt"])
        failed = sorted(
            (
                h
                for h in status.get("history") or []
                if h.get("verdict") == "Failed" and h.get("time") and _at(h["time"]) >= started
            ),
            key=lambda h: _at(h["time"]),
        )
        if phase == "Failed" and failed and failed[0].get("time"):
            span["first_failed_analysis_to_failed_s"] = round(
                (_at(status["phaseSince"]) - _at(failed[0]["time"])).total_seconds(), 1
            )
        spans[phase] = span
    return spans


def local_rollout() -> dict[str, Any]:
    path = RESULTS / "rollout.json"
    if not path.exists():
        return {}
    return {r["metric"]: r["value"] for r in json.loads(path.read_text())["rows"] if "run" in r}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=Path, required=True, help="scripts/kind/test.sh step times")
    parser.add_argument("--watch", type=Path, required=True, help="watch of the e2e ModelRollout")
    parser.add_argument(
        "--junit",
        type=Path,
        action="append",
        default=[],
        help="pytest JUnit file of the kind scenarios; a later one (a rerun) replaces the "
        "scenarios it holds",
    )
    parser.add_argument("--note", default="", help="how the run went (load, cold/warm caches)")
    args = parser.parse_args()

    steps = read_steps(args.steps)
    events = read_watch(args.watch.read_text())
    spans = phase_spans(events)
    local = local_rollout()
    rows: list[dict[str, Any]] = []
    for name in STEPS:
        if name in steps:
            rows.append({"metric": f"{name} (s)", "kind": steps[name], "local harness": ""})
    if all(name in steps for name in STEPS):
        total = round(sum(steps[name] for name in STEPS), 1)
        rows.append(
            {"metric": "cluster create → first prediction (s)", "kind": total, "local harness": ""}
        )
    if "pytest" in steps:
        rows.append({"metric": "pytest -m kind (s)", "kind": steps["pytest"], "local harness": ""})
    if "Succeeded" in spans:
        rows.append(
            {
                "metric": "apply → promoted (s)",
                "kind": spans["Succeeded"]["seconds"],
                "local harness": local.get("apply → promoted (s)", ""),
            }
        )
    if "Failed" in spans:
        rows.append(
            {
                "metric": "apply faulty → rolled back (s)",
                "kind": spans["Failed"]["seconds"],
                "local harness": "",
            }
        )
        if "first_failed_analysis_to_failed_s" in spans["Failed"]:
            rows.append(
                {
                    "metric": "first failed analysis → rolled back (s)",
                    "kind": spans["Failed"]["first_failed_analysis_to_failed_s"],
                    "local harness": local.get("fault serving → rollback completed (s)", ""),
                }
            )
        rows.append(
            {
                "metric": "rollback reason",
                "kind": spans["Failed"]["message"][:160],
                "local harness": "",
            }
        )
    cases: dict[str, dict[str, Any]] = {}
    for index, path in enumerate(args.junit):
        for case in read_junit(path.read_text()):
            if index and case["scenario"] in cases:
                case["outcome"] += ", rerun"
            cases[case["scenario"]] = case
    if cases:
        for case in cases.values():
            rows.append(
                {
                    "metric": f"scenario {case['scenario']} (s, {case['outcome']})",
                    "kind": case["seconds"],
                    "local harness": "",
                }
            )
    if all(name in steps for name in (*STEPS, "pytest")):
        whole = round(sum(steps.values()), 1)
        rows.append({"metric": "whole make test-kind (s)", "kind": whole, "local harness": ""})
        room = CI_BUDGET_S - REST_OF_MAKE_TEST_S
        rows.append(
            {
                "metric": (
                    f"fits make test's 75 min with the rest's ~{REST_OF_MAKE_TEST_S // 60} min"
                    " (room s)"
                ),
                "kind": f"{'yes' if whole <= room else 'no'} ({whole} of {room})",
                "local harness": "",
            }
        )
    notes = (
        "Offline kind profile (one node, 2 shared cores), tests/kind/test_rollout.py's rollout: "
        "steps [20, 50], interval 30 s, failureThreshold 2. Local harness column: bench/results/"
        "rollout.json, a different rollout (interval 10 s; its rollback figure runs from the "
        "faulty canary first taking traffic), so compare orders of magnitude only. " + args.note
    )
    write_results("kind", rows, ["metric", "kind", "local harness"], notes)
    print((RESULTS / "kind.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
