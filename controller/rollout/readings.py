"""What the adapters observed, as plain values: the decision function's only input
besides spec, status and the clock. ``None`` always means "not known", never zero."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WorkloadReading:
    """A Deployment's state (stable or canary) as its status reports it."""

    exists: bool = False
    replicas: int = 0  # desired (spec.replicas)
    ready: int = 0
    updated: int = 0
    total: int | None = None  # status.replicas: pods of every ReplicaSet, old ones included
    observed: bool = True  # status.observedGeneration >= metadata.generation
    model_uri: str | None = None  # MODEL_URI of the pod template
    baseline_uri: str | None = None  # BASELINE_MODEL_URI of the pod template (shadow)
    shadow: bool = False  # INFERENCE_SHADOW=true in the pod template (records no decision)

    @property
    def rolled_out(self) -> bool:
        """Every desired replica runs the current template and is ready, and no pod of an
        old template is left (as ``kubectl rollout status``: with surge, old ready pods
        would otherwise stand in for new unready ones)."""
        old_left = self.total is not None and self.total > self.updated
        return (
            self.exists
            and self.observed
            and self.replicas > 0
            and self.updated >= self.replicas
            and self.ready >= self.replicas
            and not old_left
        )

    def serves(self, uri: str) -> bool:
        """Fully rolled out on ``uri``."""
        return self.model_uri == uri and self.rolled_out

    def serving(self, uri: str) -> bool:
        """At least one ready replica of the current template runs ``uri``."""
        return self.exists and self.model_uri == uri and self.observed and self.ready > 0


@dataclass(frozen=True)
class HPAReading:
    name: str
    min_replicas: int
    max_replicas: int
    held_from: int | None = None  # original floor, if the controller is holding it


@dataclass(frozen=True)
class ContractCheck:
    """Compatibility of the candidate's contract with the stable one's."""

    issues: tuple[str, ...] = ()

    @property
    def compatible(self) -> bool:
        return not self.issues


@dataclass(frozen=True)
class MetricReadings:
    """One analysis worth of Prometheus answers for the canary."""

    online: bool = True
    requests: float | None = None  # canary scoring requests in the window
    gates: Mapping[str, float | None] = field(default_factory=dict)  # None: no data
    error: str = ""

    @classmethod
    def unreachable(cls, error: str = "Prometheus unreachable") -> MetricReadings:
        return cls(online=False, error=error)


Labels = Mapping[str, str]


@dataclass(frozen=True)
class PairedReadings:
    """The canary pods' paired figures (candidate vs baseline on the same applicants) over
    the shadow phase so far. Vectors are (labels, value) pairs as Prometheus returned them."""

    online: bool = True
    decisions: tuple[tuple[Labels, float], ...] = ()  # by baseline_outcome, outcome
    bands: tuple[tuple[Labels, float], ...] = ()  # by baseline_band, band
    diff_sum: float | None = None  # sum of |candidate - baseline probability|
    diff_count: float | None = None
    candidate_buckets: tuple[tuple[Labels, float], ...] = ()  # score histogram, by le
    baseline_buckets: tuple[tuple[Labels, float], ...] = ()
    error: str = ""

    @classmethod
    def unreachable(cls, error: str = "Prometheus unreachable") -> PairedReadings:
        return cls(online=False, error=error)


@dataclass(frozen=True)
class HookResult:
    """One webhook call: up to ``1 + retries`` HTTP attempts, each within the timeout."""

    ok: bool  # some attempt answered 2xx
    attempts: int = 1
    code: int | None = None  # last HTTP status (None: timeout or no connection)
    message: str = ""  # short reason, never the URL or a key


@dataclass(frozen=True)
class Readings:
    generation: int = 1
    deleting: bool = False
    action: str | None = None  # value of the mlops.creditrisk.io/action annotation
    action_by: str | None = None  # its mlops.creditrisk.io/action-by (the admission policy's)
    model_name: str | None = None
    candidate_version: str | None = None  # spec.model.uri resolved now
    candidate_error: str = ""  # why it could not be resolved
    stable_version: str | None = None  # the stable workload's MODEL_URI resolved
    stable: WorkloadReading = WorkloadReading()
    canary: WorkloadReading = WorkloadReading()
    stable_hpa: HPAReading | None = None
    contract: ContractCheck | None = None  # None: not checked (yet)
    metrics: MetricReadings | None = None  # None: not queried this tick
    paired: PairedReadings | None = None  # shadow figures; None: not queried this tick
    hooks: Mapping[str, HookResult] = field(default_factory=dict)  # by name; called this tick
