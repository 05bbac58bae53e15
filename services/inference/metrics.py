"""Prometheus metrics of one app instance, in its own registry.

Every series carries ``model_name``, ``model_version`` and ``track`` so Prometheus can
compare canary with stable. The names are part of the API (the rollout controller and the
Grafana dashboard query them); ``docs/inference.md`` documents each one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from services.core import telemetry as t
from services.core.telemetry import MODEL_LABELS
from services.inference.score_histogram import ScoreHistogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SCORE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
# |probability - baseline probability|: decisions at a threshold move with differences of
# a few hundredths, so the buckets are fine there
DIFF_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
ModelLabels = tuple[str, str, str]
PairLabels = tuple[str, str, str, str]  # ModelLabels + the baseline's version
OUTCOMES = (t.NO_DEFAULT_OUTCOME, t.DEFAULT_OUTCOME)  # indexed by the label (1 = default)


class PairedSeries:
    """The paired-scoring series of one (served version, baseline version): every child
    created up front (zeros included, so ratios have data from the first scrape) and kept,
    so the request path only increments."""

    def __init__(
        self,
        metrics: InferenceMetrics,
        labels: PairLabels,
        bands: Sequence[str],
        baseline_bands: Sequence[str],
    ) -> None:
        self.labels = labels
        self.bands, self.baseline_bands = list(bands), list(baseline_bands)
        # [baseline label][served label]
        self.decisions = [
            [metrics.paired_decisions.labels(*labels, base, out) for out in OUTCOMES]
            for base in OUTCOMES
        ]
        # [baseline band index][served band index]
        self.migrations = [
            [metrics.paired_bands.labels(*labels, base, band) for band in self.bands]
            for base in self.baseline_bands
        ]
        self._by_name = {
            (base, band): self.migrations[i][j]
            for i, base in enumerate(self.baseline_bands)
            for j, band in enumerate(self.bands)
        }
        self.diff, self.baseline_score = metrics.paired_diff, metrics.baseline_score

    def observe_one(
        self,
        label: int,
        baseline_label: int,
        band: str,
        baseline_band: str,
        probability: float,
        baseline_probability: float,
    ) -> None:
        self.decisions[baseline_label][label].inc()
        self._by_name[(baseline_band, band)].inc()
        self.diff.observe_one(self.labels, abs(probability - baseline_probability))
        self.baseline_score.observe_one(self.labels, baseline_probability)

    def observe_many(
        self, decisions: np.ndarray, bands: np.ndarray, proba: np.ndarray, base: np.ndarray
    ) -> None:
        """``decisions`` [baseline][served] 2x2 counts, ``bands`` the migration counts."""
        for (i, j), count in np.ndenumerate(decisions):
            if count:
                self.decisions[i][j].inc(int(count))
        for i, j in zip(*np.nonzero(bands), strict=True):
            self.migrations[i][j].inc(int(bands[i, j]))
        self.diff.observe(self.labels, np.abs(proba - base))
        self.baseline_score.observe(self.labels, base)


class InferenceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        http = [*MODEL_LABELS, t.ROUTE_LABEL, "method", t.STATUS_LABEL]
        self.requests = Counter(
            t.HTTP_REQUESTS, "HTTP requests answered, by route and status code", http, registry=reg
        )
        self.latency = Histogram(
            t.HTTP_DURATION,
            "HTTP request latency (seconds)",
            http,
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.predictions = Counter(
            t.PREDICTIONS,
            "Applicants scored, by predicted outcome",
            [*MODEL_LABELS, t.OUTCOME_LABEL],
            registry=reg,
        )
        self.score = ScoreHistogram(
            t.SCORE,
            "Predicted default probability",
            MODEL_LABELS,
            SCORE_BUCKETS,
            registry=reg,
        )
        self.feature_psi = Gauge(
            t.FEATURE_PSI,
            "PSI of a feature over the sliding window vs training",
            [*MODEL_LABELS, "feature"],
            registry=reg,
        )
        self.score_psi = Gauge(
            t.SCORE_PSI,
            "PSI of the score over the sliding window vs training",
            MODEL_LABELS,
            registry=reg,
        )
        self.drift_samples = Gauge(
            t.DRIFT_SAMPLES,
            "Scored rows in the sliding PSI window (PSI of fewer rows is biased upwards)",
            MODEL_LABELS,
            registry=reg,
        )
        self.drift = Gauge(
            t.DRIFT_DETECTED,
            "1 when any PSI exceeds the drift threshold (with enough samples)",
            MODEL_LABELS,
            registry=reg,
        )
        self.info = Gauge(
            t.MODEL_INFO_METRIC,
            "The served model version (always 1)",
            [*MODEL_LABELS, "dataset", "uri"],
            registry=reg,
        )
        pair_labels = [*MODEL_LABELS, t.BASELINE_VERSION_LABEL]
        self.paired_decisions = Counter(
            t.PAIRED_DECISIONS,
            "Applicants scored by both the served and the baseline model, by both outcomes",
            [*pair_labels, t.BASELINE_OUTCOME_LABEL, t.OUTCOME_LABEL],
            registry=reg,
        )
        self.paired_bands = Counter(
            t.PAIRED_BANDS,
            "Applicants scored by both models, by the baseline's and the served risk band",
            [*pair_labels, t.BASELINE_BAND_LABEL, t.BAND_LABEL],
            registry=reg,
        )
        self.paired_diff = ScoreHistogram(
            t.PAIRED_SCORE_DIFF,
            "Absolute difference of the served and the baseline probability, per applicant",
            pair_labels,
            DIFF_BUCKETS,
            registry=reg,
        )
        self.baseline_score = ScoreHistogram(
            t.BASELINE_SCORE,
            "The baseline model's default probability of the applicants the served model scored",
            pair_labels,
            SCORE_BUCKETS,
            registry=reg,
        )
        self.baseline_loaded = Gauge(
            t.BASELINE_LOADED,
            "1 while the served model is paired with the configured baseline, else 0",
            [*MODEL_LABELS, t.BASELINE_URI_LABEL],
            registry=reg,
        )
        self._paired: dict[PairLabels, PairedSeries] = {}
        self._baseline_status: tuple[str, ...] | None = None
        self._http_children: dict[tuple[str, ...], tuple[Counter, Histogram | None]] = {}
        self._outcome_children: dict[ModelLabels, tuple[Counter, ...]] = {}
        self._served: tuple[ModelLabels, list[str], tuple[str, ...]] | None = None

    def observe_request(
        self, model: ModelLabels, route: str, method: str, status: int, seconds: float
    ) -> None:
        """Count every answer; time only API routes (see ``telemetry.HTTP_DURATION``).
        ``method`` is one of ``telemetry.KNOWN_METHODS`` or ``OTHER``: label values stay
        bounded whatever a client sends."""
        if method not in t.KNOWN_METHODS:
            method = t.OTHER_METHOD
        key = (*model, route, method, str(status))
        children = self._http_children.get(key)
        if children is None:
            timed = route.startswith(t.API)
            children = (self.requests.labels(*key), self.latency.labels(*key) if timed else None)
            self._http_children[key] = children
        children[0].inc()
        if children[1] is not None:
            children[1].observe(seconds)

    def observe_scores(self, model: ModelLabels, labels: np.ndarray, proba: np.ndarray) -> None:
        outcomes = self._outcomes(model)
        positives = int(np.count_nonzero(labels))
        if positives:
            outcomes[0].inc(positives)
        if len(labels) > positives:
            outcomes[1].inc(len(labels) - positives)
        self.score.observe(model, proba)

    def observe_score(self, model: ModelLabels, label: int, probability: float) -> None:
        """``observe_scores`` for one applicant, without array work."""
        self._outcomes(model)[0 if label else 1].inc()
        self.score.observe_one(model, probability)

    def _outcomes(self, model: ModelLabels) -> tuple[Counter, ...]:
        """Both outcome series, created together so a rate ratio has data from the start."""
        outcomes = self._outcome_children.get(model)
        if outcomes is None:
            outcomes = tuple(
                self.predictions.labels(*model, o)
                for o in (t.DEFAULT_OUTCOME, t.NO_DEFAULT_OUTCOME)
            )
            self._outcome_children[model] = outcomes
        return outcomes

    def set_drift(
        self,
        model: ModelLabels,
        features: Mapping[str, float],
        score: float,
        detected: bool,
        samples: int,
    ) -> None:
        for name, value in features.items():
            self.feature_psi.labels(*model, name).set(value)
        self.score_psi.labels(*model).set(score)
        self.drift_samples.labels(*model).set(samples)
        self.drift.labels(*model).set(1.0 if detected else 0.0)

    def serve(self, model: ModelLabels, features: list[str], dataset: str, uri: str) -> None:
        """A new model version is served: replace the info and drift series of the old one
        (counters and histograms of the old version stay, as Prometheus expects)."""
        if self._served is not None:
            old, old_features, old_info = self._served
            self.info.remove(*old_info)
            self.score_psi.remove(*old)
            self.drift_samples.remove(*old)
            self.drift.remove(*old)
            for name in old_features:
                self.feature_psi.remove(*old, name)
        info = (*model, dataset, uri)
        self._served = (model, list(features), info)
        self.info.labels(*info).set(1)
        self._outcomes(model)
        self.set_drift(model, dict.fromkeys(features, 0.0), 0.0, False, 0)

    def paired(
        self, labels: PairLabels, bands: Sequence[str], baseline_bands: Sequence[str]
    ) -> PairedSeries:
        """The paired series of a served version and a baseline version (made once)."""
        series = self._paired.get(labels)
        if series is None:
            series = self._paired[labels] = PairedSeries(self, labels, bands, baseline_bands)
        return series

    def baseline_status(self, model: ModelLabels, uri: str, paired: bool) -> None:
        """Whether the served version is paired with the baseline at ``uri`` (one series:
        the previous version's is removed)."""
        key = (*model, uri)
        if self._baseline_status is not None and self._baseline_status != key:
            self.baseline_loaded.remove(*self._baseline_status)
        self._baseline_status = key
        self.baseline_loaded.labels(*key).set(1.0 if paired else 0.0)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
