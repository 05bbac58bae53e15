"""Prometheus metrics of one app instance, in its own registry.

Every series carries ``model_name``, ``model_version`` and ``track`` so Prometheus can
compare canary with stable. The names are part of the API (the rollout controller and the
Grafana dashboard query them); ``docs/inference.md`` documents each one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from services.core import telemetry as t
from services.core.telemetry import MODEL_LABELS
from services.inference.score_histogram import ScoreHistogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SCORE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
ModelLabels = tuple[str, str, str]


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

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
