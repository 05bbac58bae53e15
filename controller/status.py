"""The ModelRollout ``status``: the only place where rollout progress lives.

A restarted controller reads it back and continues at the same step: every counter and
timestamp the decision function needs is here, nothing is kept in memory.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer

from controller.spec import CamelModel


def merge_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``: changed keys only,
    objects compared key by key, lists and scalars sent whole when they differ, a key
    gone from ``new`` sent as ``null``. Applied to ``old`` it gives ``new`` without its
    ``null`` values (which a merge patch cannot store: they delete)."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if key in old and before == value:
            continue
        if isinstance(value, dict) and isinstance(before, dict):
            patch[key] = merge_patch(before, value)
        else:
            patch[key] = value
    for key in old.keys() - new.keys():
        patch[key] = None
    return patch


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(_rfc3339, return_type=str)]


class Phase(StrEnum):
    PENDING = "Pending"  # accepted, nothing done yet
    INITIALIZING = "Initializing"  # contract gate, canary created, waiting until ready
    SHADOWING = "Shadowing"  # weight 0; the canary scores mirrored requests (discarded)
    PROGRESSING = "Progressing"  # canary takes traffic; one analysis per interval
    PAUSED = "Paused"  # held by spec.paused or a pause annotation
    AWAITING_APPROVAL = "AwaitingApproval"  # held for a sign-off (canary.approval)
    PROMOTING = "Promoting"  # stable rolls to the candidate; HPA floor held
    SUCCEEDED = "Succeeded"  # candidate is stable, alias moved, canary removed
    ROLLING_BACK = "RollingBack"  # traffic back on stable, canary scaled away, recording
    FAILED = "Failed"  # rolled back or refused (see the Promoted condition's reason)


ACTIVE = frozenset(
    {Phase.INITIALIZING, Phase.SHADOWING, Phase.PROGRESSING, Phase.PAUSED, Phase.AWAITING_APPROVAL}
)
PAUSABLE = frozenset(
    {
        Phase.PENDING,
        Phase.INITIALIZING,
        Phase.SHADOWING,
        Phase.PROGRESSING,
        Phase.AWAITING_APPROVAL,
    }
)
TERMINAL = frozenset({Phase.SUCCEEDED, Phase.FAILED})


class Verdict(StrEnum):
    PASSED = "Passed"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"


class GateResult(CamelModel):
    name: str
    value: float | None = None  # None: no data
    min: float | None = None
    max: float | None = None
    verdict: Literal["Passed", "Failed", "NoData", "Undecided"]  # Undecided: bound straddles


class PairedRecord(CamelModel):
    """Paired figures: the candidate and the stable version on the same applicants.

    ``bands`` is the band migration matrix: baseline (stable) band -> candidate band ->
    applicants; ``flipRateLower``/``flipRateUpper`` is the confidence interval the
    ``flipRate`` gate judges."""

    pairs: float | None = None
    flips: float | None = None
    flip_rate: float | None = None
    flip_rate_lower: float | None = None
    flip_rate_upper: float | None = None
    mean_abs_diff: float | None = None
    score_psi: float | None = None
    bands: dict[str, dict[str, float]] = Field(default_factory=dict)


class AnalysisRecord(CamelModel):
    time: Timestamp
    step: int
    weight: int
    canary_version: str | None = None
    verdict: Verdict
    reason: str  # GatesPassed, GateFailed, TooFewRequests, NoData, PrometheusUnreachable
    requests: float | None = None
    gates: list[GateResult] = Field(default_factory=list)
    message: str = ""
    paired: PairedRecord | None = None  # the canary's paired figures (shadow.canaryGates)


class ShadowResult(PairedRecord):
    """The shadow phase of one candidate: its progress, then its paired figures and
    verdict."""

    canary_version: str | None = None
    baseline_version: str | None = None
    started_at: Timestamp | None = None
    checked_at: Timestamp | None = None  # last time the paired figures were read
    finished_at: Timestamp | None = None
    verdict: Verdict | None = None  # None while the phase runs
    reason: str = ""  # GatesPassed, GateFailed, TooFewPairs, NoData, PrometheusUnreachable
    message: str = ""
    gates: list[GateResult] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED


class Condition(CamelModel):
    type: str
    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str = ""
    last_transition_time: Timestamp
    observed_generation: int = 0


class Promotion(CamelModel):
    """The stable HPA floor held during promotion, and the value to give back after."""

    stable_hpa: str | None = None
    original_min: int | None = None
    held_min: int | None = None


class HookStatus(CamelModel):
    """What one webhook answered during this rollout attempt (reset when a new one starts).

    ``Asked``: its stage is waiting for the adapters to call it; ``Passed``: it answered
    2xx (a gate is satisfied for the rest of the attempt); ``Waiting``: a confirm hook said
    not yet; ``Failed``: the last call failed (non-2xx after retries, timeout, no
    connection); ``Sent``: a fire-once notification was handed to the executor."""

    name: str
    type: str
    state: Literal["Asked", "Passed", "Waiting", "Failed", "Sent"]
    calls: int = 0  # calls made (each up to 1 + retries HTTP attempts)
    attempts: int = 0  # HTTP attempts made, retries included
    failures: int = 0  # calls that failed
    code: int | None = None  # last HTTP status (None: no answer)
    message: str = ""
    time: Timestamp | None = None  # of the last call (or of the ask)


ApprovalPoint = Literal["beforeTraffic", "beforePromotion"]


class Approval(CamelModel):
    """A sign-off: where, for which version, by whom (as the API server authenticated them,
    or "unknown" without the admission policy) and when."""

    point: ApprovalPoint
    version: str | None = None
    by: str
    at: Timestamp


class RolloutStatus(CamelModel):
    phase: Phase = Phase.PENDING
    message: str = ""
    observed_generation: int = 0
    model_name: str | None = None
    candidate_uri: str | None = None
    stable_version: str | None = None
    canary_version: str | None = None
    canary_weight: int = 0
    step: int = 0  # index into the step weights
    failed_checks: int = 0  # failed analyses this rollout
    inconclusive_count: int = 0  # inconclusive analyses in a row
    unreachable_count: int = 0  # analyses in a row with Prometheus unreachable
    analysis_count: int = 0
    retries: int = 0
    started_at: Timestamp | None = None  # this rollout attempt
    phase_since: Timestamp | None = None
    last_analysis_time: Timestamp | None = None
    canary_not_ready_since: Timestamp | None = None
    paused_from: Phase | None = None
    paused_by: Literal["spec", "annotation"] | None = None
    last_action: str | None = None
    last_action_by: str | None = None
    awaiting: ApprovalPoint | None = None  # the sign-off AwaitingApproval waits for
    approvals: list[Approval] = Field(default_factory=list)  # this attempt's sign-offs
    promotion: Promotion | None = None
    shadow: ShadowResult | None = None  # this candidate's shadow phase (None: not run)
    last_analysis: AnalysisRecord | None = None
    history: list[AnalysisRecord] = Field(default_factory=list)
    hooks: list[HookStatus] = Field(default_factory=list)  # webhooks of this attempt
    conditions: list[Condition] = Field(default_factory=list)

    @classmethod
    def from_k8s(cls, status: dict[str, Any] | None) -> RolloutStatus:
        return cls.model_validate(dict(status or {}))

    def to_k8s(self) -> dict[str, Any]:
        """The JSON body; ``None`` stays as ``null`` so a merge patch clears stale fields."""
        return self.model_dump(by_alias=True, mode="json")

    def condition(self, kind: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)

    def hook(self, name: str) -> HookStatus | None:
        return next((h for h in self.hooks if h.name == name), None)
