"""PromQL for every gate, built from the inference service's metrics (SPEC §5).

Every series carries ``model_name``, ``model_version`` and ``track`` (stable|canary). The
canary is selected by track *and* version, so pods of an earlier candidate never count;
``spec.prometheus.selector`` adds matchers (e.g. ``namespace``) to every selector. Ratios
use ``or vector(0)`` on the numerator only: no 5xx series means 0 errors, while no
requests at all stays "no data".

The PSI gates count only pods whose sliding PSI window holds ``analysis.minDriftSamples``
rows (``inference_drift_samples``): the PSI of n rows against a fixed reference is biased
upwards by about (bins − 1) / n, so a young canary pod would fail a healthy candidate on
noise. Until one pod has enough rows the gate has no data: the analysis is inconclusive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controller.durations import promql_duration
from controller.spec import VARIABLE, RolloutSpec
from services.core import telemetry as t
from services.core.telemetry import SCORING_ROUTES

REQUESTS, PREDICTIONS = t.total(t.HTTP_REQUESTS), t.total(t.PREDICTIONS)


@dataclass(frozen=True)
class QuerySet:
    requests: str  # canary scoring requests in the window
    gates: dict[str, str] = field(default_factory=dict)  # gate name -> PromQL


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def matchers(labels: dict[str, str]) -> str:
    return ",".join(f"{key}={_quote(value)}" for key, value in labels.items())


@dataclass(frozen=True)
class Scope:
    model_name: str
    canary_version: str
    window: float
    extra: dict[str, str] = field(default_factory=dict)
    namespace: str = ""
    min_drift_samples: int = 0

    @property
    def canary(self) -> str:
        return matchers(
            {
                **self.extra,
                "model_name": self.model_name,
                t.TRACK_LABEL: "canary",
                "model_version": self.canary_version,
            }
        )

    @property
    def stable(self) -> str:
        return matchers({**self.extra, "model_name": self.model_name, t.TRACK_LABEL: "stable"})

    @property
    def range(self) -> str:
        return promql_duration(self.window)


def _increase(metric: str, sel: str, scope: Scope, more: str = "") -> str:
    return f"sum(increase({metric}{{{sel}{more}}}[{scope.range}]))"


SHIFT_Z = 2.576  # two-sided 99 %: the part of a shift that sampling noise cannot explain


def _positive_rate(sel: str, scope: Scope) -> tuple[str, str]:
    """(share of ``default`` predictions, predictions) in the window."""
    positives = _increase(
        PREDICTIONS, sel, scope, f",{t.OUTCOME_LABEL}={_quote(t.DEFAULT_OUTCOME)}"
    )
    total = _increase(PREDICTIONS, sel, scope)
    return f"(({positives} or vector(0)) / {total})", total


def _positive_rate_shift(scope: Scope) -> str:
    """|canary − stable| share of ``default`` predictions, less ``SHIFT_Z`` standard errors
    of that difference (floored at 0): the shift the window's evidence supports. A raw
    difference of n predictions at share p is noisy by √(p(1−p)/n) — about ±0.03 for 200
    canary predictions at p = 0.3 — so a healthy candidate of a model with many positive
    predictions would fail a 0.05 gate in roughly one analysis in seven."""
    canary, n_canary = _positive_rate(scope.canary, scope)
    stable, n_stable = _positive_rate(scope.stable, scope)
    error = f"sqrt({canary} * (1 - {canary}) / {n_canary} + {stable} * (1 - {stable}) / {n_stable})"
    return f"clamp_min(abs({canary} - {stable}) - {SHIFT_Z} * {error}, 0)"


ROUTES = f",{t.ROUTE_LABEL}=~{_quote('|'.join(SCORING_ROUTES))}"


def _psi(metric: str, scope: Scope, per_series: str = "") -> str:
    """Highest PSI of ``metric`` over canary pods with enough rows in their window."""
    latest = f"last_over_time({metric}{{{scope.canary}}}[{scope.range}])"
    if scope.min_drift_samples > 0:
        samples = f"last_over_time({t.DRIFT_SAMPLES}{{{scope.canary}}}[{scope.range}])"
        latest = f"({latest} and {per_series}({samples} >= {scope.min_drift_samples}))"
    return f"max({latest})"


def builtin_queries(scope: Scope) -> dict[str, str]:
    routes, canary = ROUTES, scope.canary
    errors = _increase(REQUESTS, canary, scope, f'{routes},{t.STATUS_LABEL}=~"5.."')
    total = _increase(REQUESTS, canary, scope, routes)
    buckets = f"{t.bucket(t.HTTP_DURATION)}{{{canary}{routes}}}[{scope.range}]"
    return {
        "errorRatio": f"({errors} or vector(0)) / {total}",
        "latencyP99": f"histogram_quantile(0.99, sum by (le) (rate({buckets})))",
        "featurePSI": _psi(t.FEATURE_PSI, scope, "ignoring(feature) "),
        "scorePSI": _psi(t.SCORE_PSI, scope),
        "positiveRateShift": _positive_rate_shift(scope),
    }


def render(query: str, scope: Scope) -> str:
    """Fill ``{{ canary }}``, ``{{ stable }}`` (label matchers), ``{{ window }}``,
    ``{{ model_name }}``, ``{{ canary_version }}`` and ``{{ namespace }}``."""
    values = {
        "canary": scope.canary,
        "stable": scope.stable,
        "window": scope.range,
        "model_name": scope.model_name,
        "canary_version": scope.canary_version,
        "namespace": scope.namespace,
    }
    return VARIABLE.sub(lambda m: values[m.group(1)], query)


def build_queries(spec: RolloutSpec, scope: Scope) -> QuerySet:
    """The request count and the PromQL of every enabled gate."""
    builtin = builtin_queries(scope)
    enabled = spec.analysis.gates.enabled()
    gates = {name: builtin[name] for name in builtin if name in enabled}
    gates.update({g.name: render(g.query, scope) for g in spec.analysis.custom})
    return QuerySet(_increase(REQUESTS, scope.canary, scope, ROUTES), gates)


@dataclass(frozen=True)
class PairedQueries:
    """The canary pods' paired counters over the shadow phase so far (vectors by label)."""

    decisions: str  # by baseline_outcome, outcome
    bands: str  # by baseline_band, band
    diff_sum: str
    diff_count: str
    candidate_buckets: str  # the candidate's score histogram, by le
    baseline_buckets: str  # the baseline's score histogram on the same applicants, by le


def _by(labels: str, metric: str, sel: str, scope: Scope) -> str:
    return f"sum by ({labels}) (increase({metric}{{{sel}}}[{scope.range}]))"


def paired_queries(scope: Scope, baseline_version: str) -> PairedQueries:
    """PromQL of the shadow gates' inputs: canary pods comparing with ``baseline_version``
    (``scope.window`` is the phase so far)."""
    paired = f"{scope.canary},{matchers({t.BASELINE_VERSION_LABEL: baseline_version})}"
    outcomes = f"{t.BASELINE_OUTCOME_LABEL}, {t.OUTCOME_LABEL}"
    bands = f"{t.BASELINE_BAND_LABEL}, {t.BAND_LABEL}"
    diff = t.PAIRED_SCORE_DIFF
    return PairedQueries(
        decisions=_by(outcomes, t.total(t.PAIRED_DECISIONS), paired, scope),
        bands=_by(bands, t.total(t.PAIRED_BANDS), paired, scope),
        diff_sum=_increase(f"{diff}_sum", paired, scope),
        diff_count=_increase(f"{diff}_count", paired, scope),
        candidate_buckets=_by("le", t.bucket(t.SCORE), scope.canary, scope),
        baseline_buckets=_by("le", t.bucket(t.BASELINE_SCORE), paired, scope),
    )


def scope_for(spec: RolloutSpec, model_name: str, canary_version: str, namespace: str) -> Scope:
    return Scope(
        model_name,
        canary_version,
        spec.window,
        dict(spec.prometheus.selector),
        namespace,
        spec.analysis.min_drift_samples,
    )
