"""The decision record kept on the MLflow model version: compact, bounded tag values,
so "why was v7 rolled back?" can be answered from the registry after the fact."""

from __future__ import annotations

import json
from datetime import datetime

from controller.rollout.transitions import Tick
from controller.status import AnalysisRecord, Approval

TAG_PREFIX = "rollout"
MAX_TAG_VALUE = 4000  # MLflow caps model-version tag values at 5000 characters


def compact(record: AnalysisRecord) -> str:
    """One analysis as short JSON: verdict, reason, weight, requests and gate figures."""
    data = {
        "time": record.time.isoformat(timespec="seconds"),
        "step": record.step,
        "weight": record.weight,
        "verdict": record.verdict.value,
        "reason": record.reason,
        "requests": record.requests,
        "gates": {g.name: [g.value, g.verdict] for g in record.gates},
    }
    return json.dumps(data, separators=(",", ":"))[:MAX_TAG_VALUE]


def analysis_tag(record: AnalysisRecord, number: int) -> dict[str, str]:
    return {f"{TAG_PREFIX}.analysis.{number:03d}": compact(record)}


def _signed(approval: Approval) -> dict[str, str]:
    return {"by": approval.by, "at": approval.at.isoformat(timespec="seconds")}


def approval_tags(approval: Approval) -> dict[str, str]:
    """The sign-off on the version, as soon as it is given (best effort)."""
    value = json.dumps(_signed(approval), separators=(",", ":"))
    return {f"{TAG_PREFIX}.approval.{approval.point}": value[:MAX_TAG_VALUE]}


def verdict_tags(
    tick: Tick, verdict: str, reason: str, message: str, at: datetime | None = None
) -> dict[str, str]:
    """Tags for the final verdict of a rollout attempt (promoted, rolled back, rejected).

    ``at`` is when the verdict was reached (default: now). Promotion and rollback pass the
    start of their phase, recorded in the status: a tick repeated after the operator died
    before writing the status then sets exactly the same tags (nothing changes twice)."""
    status = tick.status
    tags = {
        f"{TAG_PREFIX}.verdict": verdict,
        f"{TAG_PREFIX}.reason": reason,
        f"{TAG_PREFIX}.message": message[:MAX_TAG_VALUE],
        f"{TAG_PREFIX}.time": (at or tick.now).isoformat(timespec="seconds"),
        f"{TAG_PREFIX}.stable_version": str(status.stable_version),
        f"{TAG_PREFIX}.failed_checks": str(status.failed_checks),
        f"{TAG_PREFIX}.analyses": str(status.analysis_count),
    }
    if status.last_analysis is not None:
        tags[f"{TAG_PREFIX}.last_analysis"] = compact(status.last_analysis)
    signed = {a.point: _signed(a) for a in status.approvals if a.version == status.canary_version}
    if signed:
        tags[f"{TAG_PREFIX}.approvals"] = json.dumps(signed, separators=(",", ":"))[:MAX_TAG_VALUE]
    return tags
