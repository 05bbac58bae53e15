"""The ModelRollout ``spec``: typed, validated, with the defaults of SPEC §7.

Field names are the CRD's camelCase (``failureThreshold``); Python uses snake_case.
Every default here is also written into the CRD schema (``k8s/crd/modelrollouts.yaml``)
so ``kubectl get -o yaml`` shows what the controller uses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from controller.durations import Duration
from services.core.model_ref import ModelRef

DEFAULT_STEPS = (5, 10, 25, 50)
BUILTIN_GATES = ("errorRatio", "latencyP99", "featurePSI", "scorePSI", "positiveRateShift")
CUSTOM_VARS = ("canary", "stable", "window", "model_name", "canary_version", "namespace")
VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class TargetRef(CamelModel):
    kind: str = "Deployment"
    name: str = Field(min_length=1)
    container: str | None = None  # container that gets MODEL_URI; default: the first


class ModelSpec(CamelModel):
    uri: str  # models:/name/VERSION or models:/name@ALIAS

    @field_validator("uri")
    @classmethod
    def _registry_uri(cls, uri: str) -> str:
        ModelRef.parse(uri)
        return uri

    @property
    def ref(self) -> ModelRef:
        return ModelRef.parse(self.uri)


class ApprovalSpec(CamelModel):
    """Sign-offs: hold in ``AwaitingApproval`` until ``action=approve`` (see docs/approval.md)."""

    before_traffic: bool = False  # after the contract gate (and shadow), before any traffic
    before_promotion: bool = False  # after the last step's analysis passed


class CanarySpec(CamelModel):
    steps: list[int] | None = None  # traffic % per step; default 5, 10, 25, 50
    step_weight: int | None = Field(default=None, ge=1, le=100)
    max_weight: int | None = Field(default=None, ge=1, le=100)
    interval: Duration = 60.0
    failure_threshold: int = Field(default=3, ge=1)
    progress_deadline: Duration = 600.0
    approval: ApprovalSpec = ApprovalSpec()

    @model_validator(mode="after")
    def _check(self) -> CanarySpec:
        if self.steps is not None and self.step_weight is not None:
            raise ValueError("give steps or stepWeight (+ maxWeight), not both")
        weights = self.weights()
        if not weights or any(not 0 < w <= 100 for w in weights):
            raise ValueError(f"step weights must be within 1..100: {weights}")
        if weights != sorted(set(weights)):
            raise ValueError(f"step weights must strictly increase: {weights}")
        return self

    def weights(self) -> list[int]:
        if self.steps is not None:
            return list(self.steps)
        if self.step_weight is not None:
            top = self.max_weight or 50
            return list(range(self.step_weight, top + 1, self.step_weight)) or [top]
        return list(DEFAULT_STEPS)


class Threshold(CamelModel):
    enabled: bool = True
    min: float | None = None
    max: float | None = None


class LatencyThreshold(CamelModel):
    enabled: bool = True
    max: Duration = 0.25  # p99 latency of scoring requests


class Gates(CamelModel):
    error_ratio: Threshold = Threshold(max=0.01)
    latency_p99: LatencyThreshold = LatencyThreshold()
    feature_psi: Threshold = Field(default=Threshold(max=0.2), alias="featurePSI")
    score_psi: Threshold = Field(default=Threshold(max=0.2), alias="scorePSI")
    positive_rate_shift: Threshold = Threshold(max=0.05)

    def enabled(self) -> dict[str, tuple[float | None, float | None]]:
        """Enabled built-in gates by CRD name → (min, max)."""
        gates = {
            "errorRatio": self.error_ratio,
            "featurePSI": self.feature_psi,
            "scorePSI": self.score_psi,
            "positiveRateShift": self.positive_rate_shift,
        }
        found = {name: (g.min, g.max) for name, g in gates.items() if g.enabled}
        if self.latency_p99.enabled:
            found["latencyP99"] = (None, self.latency_p99.max)
        return found


class CustomGate(CamelModel):
    name: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9_-]{0,62}$")
    query: str = Field(min_length=1)  # PromQL, may use {{ canary_selector }} etc.
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check(self) -> CustomGate:
        if self.min is None and self.max is None:
            raise ValueError(f"custom gate {self.name!r} needs min or max")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"custom gate {self.name!r}: min must not exceed max")
        if self.name in (*BUILTIN_GATES, "requests"):
            raise ValueError(f"custom gate {self.name!r} shadows a built-in gate")
        unknown = sorted(set(VARIABLE.findall(self.query)) - set(CUSTOM_VARS))
        if unknown:
            raise ValueError(f"custom gate {self.name!r}: unknown variables {unknown}")
        return self


class AnalysisSpec(CamelModel):
    min_requests: int = Field(default=200, ge=0)  # canary scoring requests per window
    window: Duration | None = None  # PromQL range; default: the canary interval
    max_unreachable: int = Field(default=3, ge=1)  # Prometheus-down analyses in a row → rollback
    max_inconclusive: int = Field(default=0, ge=0)  # inconclusive in a row → rollback (0: never)
    # rows a canary pod's PSI window must hold before its PSI counts (0: any)
    min_drift_samples: int = Field(default=200, ge=0)
    history_limit: int = Field(default=10, ge=1, le=100)
    gates: Gates = Gates()
    custom: list[CustomGate] = Field(default_factory=list)

    @field_validator("custom")
    @classmethod
    def _unique(cls, custom: list[CustomGate]) -> list[CustomGate]:
        names = [g.name for g in custom]
        if len(names) != len(set(names)):
            raise ValueError(f"custom gate names must be unique: {names}")
        return custom

    def thresholds(self) -> dict[str, tuple[float | None, float | None]]:
        found = self.gates.enabled()
        found.update({g.name: (g.min, g.max) for g in self.custom})
        return found


class ShadowGates(CamelModel):
    """Paired gates of the shadow phase: the candidate against the stable version on the
    same applicants (no sampling noise between two groups of applicants)."""

    # upper confidence bound of the approve<->decline flip rate
    flip_rate: Threshold = Threshold(max=0.02)
    score_diff: Threshold = Threshold(max=0.05)  # mean |candidate - baseline probability|
    score_psi: Threshold = Field(default=Threshold(max=0.1), alias="scorePSI")

    def enabled(self) -> dict[str, float | None]:
        """Enabled paired gates by CRD name -> max."""
        gates = {"flipRate": self.flip_rate, "scoreDiff": self.score_diff}
        gates["scorePSI"] = self.score_psi
        return {name: g.max for name, g in gates.items() if g.enabled}


class ShadowSpec(CamelModel):
    """Before any traffic step the router mirrors ``percent`` % of live requests to the
    canary (answers discarded); its pods score each applicant with the candidate and the
    stable version and the paired gates judge the two on the same applicants."""

    enabled: bool = False
    percent: int = Field(default=100, ge=1, le=100)  # share of live requests mirrored
    min_requests: int = Field(default=500, ge=1)  # paired decisions before a verdict
    duration: Duration = 300.0  # minimum length of the phase
    timeout: Duration = 1800.0  # no verdict (too few pairs, no data) this long -> rollback
    confidence: float = Field(default=0.95, gt=0.5, lt=1)  # of the flip-rate bound
    gates: ShadowGates = ShadowGates()
    # the same gates judge every canary analysis too (the canary's own applicants, scored by
    # both versions over the analysis window): a gate shown worse fails the analysis; too
    # few pairs or an undecided bound never holds it (the unpaired gates judge the step)
    canary_gates: bool = True

    @model_validator(mode="after")
    def _check(self) -> ShadowSpec:
        if self.timeout < self.duration:
            raise ValueError("shadow.timeout must not be shorter than shadow.duration")
        return self


class AutoscalingSpec(CamelModel):
    """Bounds of the canary HPA at 100 % traffic; the canary gets its share by weight."""

    min_replicas: int = Field(default=2, ge=1)
    max_replicas: int = Field(default=10, ge=1)
    target_cpu_utilization: int = Field(default=70, ge=1, le=100, alias="targetCPUUtilization")
    target_requests_per_second: float | None = Field(
        default=None, gt=0
    )  # per pod, needs an adapter
    requests_metric: str = "http_requests_per_second"  # pods metric name for that target

    @model_validator(mode="after")
    def _check(self) -> AutoscalingSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError("autoscaling.minReplicas > maxReplicas")
        return self


class HTTPRouteRouter(CamelModel):
    name: str
    stable_service: str | None = None  # default: the target's name
    canary_service: str | None = None  # refused unless it equals <target>-canary

    # The canary Service is one the controller creates and deletes, so its name is derived
    # from the target, never taken from the spec: a free name let whoever may write a
    # ModelRollout have the controller overwrite or delete any Service in the namespace.


class IngressRouter(CamelModel):
    name: str  # the stable Ingress; the canary one is <name>-canary


class RouterSpec(CamelModel):
    http_route: HTTPRouteRouter | None = None
    ingress: IngressRouter | None = None

    @model_validator(mode="after")
    def _one(self) -> RouterSpec:
        if self.http_route is not None and self.ingress is not None:
            raise ValueError("router takes httpRoute or ingress, not both")
        return self


class PrometheusSpec(CamelModel):
    address: str = "http://prometheus.monitoring:9090"
    selector: dict[str, str] = Field(default_factory=dict)  # extra label matchers
    timeout: Duration = 5.0


HOOK_TYPES = (
    "confirm-rollout",
    "pre-rollout",
    "rollout",
    "confirm-promotion",
    "post-rollout",
    "rollback",
)
HookType = Literal[
    "confirm-rollout", "pre-rollout", "rollout", "confirm-promotion", "post-rollout", "rollback"
]


class SecretKeyRef(CamelModel):
    """One key of a Secret in the ModelRollout's namespace (the controller may read only the
    Secrets the operator granted by name: docs/webhooks.md, RBAC)."""

    name: str = Field(min_length=1)
    key: str = Field(min_length=1)


class Webhook(CamelModel):
    """A Flagger-style hook: POST of the rollout's state as JSON (docs/webhooks.md)."""

    name: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9_.-]{0,62}$")
    type: HookType
    url: str = Field(pattern=r"^https?://")
    timeout: Duration = 10.0  # per attempt
    retries: int = Field(default=2, ge=0, le=10)  # extra attempts within one call
    secret_ref: SecretKeyRef | None = None  # HMAC-SHA256 key: X-CreditRisk-Signature
    metadata: dict[str, str] = Field(default_factory=dict)


class SecretRef(CamelModel):
    name: str = Field(min_length=1)


class NotificationsSpec(CamelModel):
    """Chat and JSON messages on every phase transition; the Secret's keys ``slack``,
    ``teams`` and ``webhook`` hold incoming-webhook URLs (URLs are credentials)."""

    secret_ref: SecretRef


class RolloutSpec(CamelModel):
    target_ref: TargetRef
    model: ModelSpec
    canary: CanarySpec = CanarySpec()
    analysis: AnalysisSpec = AnalysisSpec()
    shadow: ShadowSpec = ShadowSpec()
    autoscaling: AutoscalingSpec = AutoscalingSpec()
    router: RouterSpec = RouterSpec()
    prometheus: PrometheusSpec = PrometheusSpec()
    paused: bool = False
    webhooks: list[Webhook] = Field(default_factory=list)
    notifications: NotificationsSpec | None = None

    @field_validator("webhooks")
    @classmethod
    def _unique_hooks(cls, hooks: list[Webhook]) -> list[Webhook]:
        names = [h.name for h in hooks]
        if len(names) != len(set(names)):
            raise ValueError(f"webhook names must be unique: {names}")
        return hooks

    def hooks(self, *types: str) -> list[Webhook]:
        """The webhooks of these types, in spec order."""
        return [h for h in self.webhooks if h.type in types]

    @property
    def canary_name(self) -> str:
        return f"{self.target_ref.name}-canary"

    @property
    def stable_service(self) -> str:
        route = self.router.http_route
        return (route.stable_service if route else None) or self.target_ref.name

    @property
    def canary_service(self) -> str:
        return self.canary_name

    @model_validator(mode="after")
    def _derived_names(self) -> RolloutSpec:
        route = self.router.http_route
        if route and route.canary_service not in (None, self.canary_name):
            raise ValueError(
                f"router.httpRoute.canaryService is derived ({self.canary_name}); "
                f"{route.canary_service!r} is not accepted"
            )
        if self.shadow.enabled and self.router.ingress is not None and self.shadow.percent < 100:
            raise ValueError(
                "shadow.percent must be 100 with router.ingress: ingress-nginx mirrors every "
                "request (use router.httpRoute for a share)"
            )
        return self

    @property
    def http_route(self) -> str | None:
        """The HTTPRoute to weight (the default router: one named like the target)."""
        if self.router.ingress is not None:
            return None
        route = self.router.http_route
        return route.name if route else self.target_ref.name

    @property
    def window(self) -> float:
        return self.analysis.window or self.canary.interval


def _address(url: str) -> str:
    return url.strip().rstrip("/").lower()


def check_prometheus_allowed(spec: RolloutSpec, allowlist: Sequence[str]) -> None:
    """Refuse a ``prometheus.address`` the operator did not allow (``CONTROLLER_PROMETHEUS_
    ALLOWLIST``, set by the chart): otherwise a ModelRollout author points the controller's
    requests anywhere (SSRF). An empty list allows any address (local runs)."""
    allowed = {_address(a) for a in allowlist if a.strip()}
    if allowed and _address(spec.prometheus.address) not in allowed:
        raise ValueError(
            f"prometheus.address {spec.prometheus.address!r} is not allowed "
            f"(allowed: {sorted(allowed)})"
        )


def check_webhooks_allowed(spec: RolloutSpec, allowlist: Sequence[str]) -> None:
    """Refuse a webhook URL outside the operator's prefixes (``CONTROLLER_WEBHOOK_ALLOWLIST``):
    as for Prometheus, a free URL lets a ModelRollout author aim the controller's requests
    at anything it can reach. An empty list allows any URL (local runs)."""
    prefixes = [_address(a) for a in allowlist if a.strip()]
    for hook in spec.webhooks:
        url = _address(hook.url)
        if prefixes and not any(url == p or url.startswith(p + "/") for p in prefixes):
            raise ValueError(f"webhook {hook.name!r}: URL not allowed (allowed: {prefixes})")
