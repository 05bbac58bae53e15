"""Synthetic inference series for the scale benchmark, as Prometheus text exposition.

For every rollout (one ``app``) there are ``pods`` stable and ``pods`` canary pods; each
pod exports the series the controller's built-in gates read (``controller/queries.py``),
with the inference service's names and labels (``services/core/telemetry.py``):
scoring requests by status, the latency histogram, predictions by outcome, per-feature
and score PSI and the PSI window's sample count. Counters are ``rate × seconds`` since
the exporter started, so ``increase()`` over any window sees a steady rate.

A healthy rollout's canary looks like its stable (0.1 % 5xx, p99 ≈ 45 ms, PSI 0.02); a
failing one's canary answers ``FAILING_ERROR_SHARE`` of its requests with a 5xx, which
the ``errorRatio`` gate (max 1 %) must catch. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from services.core import telemetry as t

NAMESPACE = "credit-risk"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# share of requests at or under each bucket bound (the rest under +Inf)
LATENCY_SHARES = (0.0, 0.01, 0.05, 0.2, 0.7, 0.995, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
MEAN_LATENCY = 0.022
FEATURES = ("balance", "income", "student")
HEALTHY_ERROR_SHARE, FAILING_ERROR_SHARE = 0.001, 0.2
DEFAULT_SHARE = 0.033  # ``default`` predictions, same on both tracks
PSI, DRIFT_SAMPLES = 0.02, 1000.0


@dataclass(frozen=True)
class Rollout:
    app: str  # the target Deployment (``spec.prometheus.selector`` = {"app": app})
    failing: bool = False
    canary_version: str | None = None  # its candidate's version (None: ``Rates``')


@dataclass(frozen=True)
class Rates:
    """Per-pod scoring requests per second, and versions, of both tracks."""

    model_name: str = "bench-model"
    stable_version: str = "1"
    canary_version: str = "2"
    stable_rps: float = 20.0
    canary_rps: float = 10.0
    pods: int = 2


@dataclass(frozen=True)
class Series:
    """One sample line: ``name{labels}`` and how its value moves (``rate`` per second on
    top of ``base``: a counter when ``rate`` > 0, a gauge otherwise)."""

    name: str
    labels: str
    rate: float = 0.0
    base: float = 0.0

    def value(self, elapsed: float) -> float:
        return self.base + self.rate * elapsed


def _labels(pairs: dict[str, str]) -> str:
    body = ",".join(f'{k}="{v}"' for k, v in pairs.items())
    return "{" + body + "}"


def _pods(rollout: Rollout, rates: Rates) -> Iterator[tuple[dict[str, str], float, float]]:
    """(labels, requests/s, 5xx share) of every pod of ``rollout``."""
    tracks = (
        ("stable", rates.stable_version, rates.stable_rps, HEALTHY_ERROR_SHARE),
        (
            "canary",
            rollout.canary_version or rates.canary_version,
            rates.canary_rps,
            FAILING_ERROR_SHARE if rollout.failing else HEALTHY_ERROR_SHARE,
        ),
    )
    for track, version, rps, errors in tracks:
        for i in range(rates.pods):
            labels = {
                "namespace": NAMESPACE,
                "app": rollout.app,
                "pod": f"{rollout.app}-{track}-{i}",
                "model_name": rates.model_name,
                "model_version": version,
                t.TRACK_LABEL: track,
            }
            yield labels, rps, errors


def pod_series(labels: dict[str, str], rps: float, errors: float) -> Iterator[Series]:
    """Every series of one pod, in family order (see ``FAMILIES``)."""
    http = {**labels, t.ROUTE_LABEL: t.PREDICT, "method": "POST"}
    ok, failed = rps * (1 - errors), rps * errors
    yield Series(t.total(t.HTTP_REQUESTS), _labels({**http, t.STATUS_LABEL: "200"}), ok)
    yield Series(t.total(t.HTTP_REQUESTS), _labels({**http, t.STATUS_LABEL: "500"}), failed)
    timed = {**http, t.STATUS_LABEL: "200"}
    bucket = t.bucket(t.HTTP_DURATION)
    for bound, share in zip(LATENCY_BUCKETS, LATENCY_SHARES, strict=True):
        yield Series(bucket, _labels({**timed, "le": str(bound)}), ok * share)
    yield Series(bucket, _labels({**timed, "le": "+Inf"}), ok)
    yield Series(f"{t.HTTP_DURATION}_sum", _labels(timed), ok * MEAN_LATENCY)
    yield Series(f"{t.HTTP_DURATION}_count", _labels(timed), ok)
    predictions = t.total(t.PREDICTIONS)
    yield Series(
        predictions, _labels({**labels, t.OUTCOME_LABEL: t.DEFAULT_OUTCOME}), ok * DEFAULT_SHARE
    )
    yield Series(
        predictions,
        _labels({**labels, t.OUTCOME_LABEL: t.NO_DEFAULT_OUTCOME}),
        ok * (1 - DEFAULT_SHARE),
    )
    for feature in FEATURES:
        yield Series(t.FEATURE_PSI, _labels({**labels, "feature": feature}), base=PSI)
    yield Series(t.SCORE_PSI, _labels(labels), base=PSI)
    yield Series(t.DRIFT_SAMPLES, _labels(labels), base=DRIFT_SAMPLES)


FAMILIES = (
    (t.HTTP_REQUESTS, "counter"),
    (t.HTTP_DURATION, "histogram"),
    (t.PREDICTIONS, "counter"),
    (t.FEATURE_PSI, "gauge"),
    (t.SCORE_PSI, "gauge"),
    (t.DRIFT_SAMPLES, "gauge"),
)


def _family(name: str) -> str:
    """The metric family a sample name belongs to."""
    for family, kind in FAMILIES:
        if kind == "counter" and name == t.total(family):
            return family
        if kind == "histogram" and name.startswith(family + "_"):
            return family
        if name == family:
            return family
    raise ValueError(f"no family for {name}")


@dataclass(frozen=True)
class Page:
    """The pre-built series of one scrape target (a shard of rollouts), grouped by family
    as the text format requires; ``render`` fills in the values at a moment."""

    families: tuple[tuple[str, str, tuple[Series, ...]], ...]

    @classmethod
    def build(cls, rollouts: Sequence[Rollout], rates: Rates) -> Page:
        grouped: dict[str, list[Series]] = {family: [] for family, _ in FAMILIES}
        for rollout in rollouts:
            for labels, rps, errors in _pods(rollout, rates):
                for series in pod_series(labels, rps, errors):
                    grouped[_family(series.name)].append(series)
        kinds = dict(FAMILIES)
        return cls(tuple((f, kinds[f], tuple(grouped[f])) for f in grouped))

    def render(self, elapsed: float) -> str:
        lines: list[str] = []
        for family, kind, series in self.families:
            lines.append(f"# TYPE {family} {kind}")
            lines.extend(f"{s.name}{s.labels} {s.value(elapsed):.3f}" for s in series)
        return "\n".join(lines) + "\n"

    @property
    def size(self) -> int:
        return sum(len(series) for _, _, series in self.families)


def shards(rollouts: Sequence[Rollout], per_shard: int) -> list[list[Rollout]]:
    """``rollouts`` cut into scrape targets of at most ``per_shard`` rollouts each."""
    if per_shard < 1:
        raise ValueError("per_shard must be >= 1")
    return [list(rollouts[i : i + per_shard]) for i in range(0, len(rollouts), per_shard)]


def plan(count: int, failing_share: float, candidates: Sequence[str] = ()) -> list[Rollout]:
    """``count`` rollouts, every ``1/failing_share``-th one failing (spread evenly, so
    each shard and each moment of creation holds both kinds); rollout ``i`` rolls out
    ``candidates[i % len(candidates)]`` (none given: ``Rates.canary_version``)."""
    if not 0 <= failing_share <= 1:
        raise ValueError("failing_share must be within 0..1")
    failing = round(count * failing_share)
    chosen = {round(i * count / failing) for i in range(failing)} if failing else set()
    pool = list(candidates)
    return [
        Rollout(f"w{i:04d}", i in chosen, pool[i % len(pool)] if pool else None)
        for i in range(count)
    ]
