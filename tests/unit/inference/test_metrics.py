"""Metric names, labels and the vectorised score histogram."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.inference.metrics import SCORE_BUCKETS, InferenceMetrics
from services.inference.score_histogram import ScoreHistogram

pytestmark = pytest.mark.unit

V1 = ("credit-default", "1", "stable")
V2 = ("credit-default", "2", "stable")


def samples(metrics: InferenceMetrics, name: str) -> list[tuple[dict[str, str], float]]:
    text = metrics.exposition().decode()
    return [
        (s.labels, s.value)
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == name
    ]


def test_score_histogram_matches_prometheus_client() -> None:
    values = np.random.default_rng(0).uniform(0, 1, 500)
    values[:5] = [0.0, 0.01, 0.1, 1.0, 0.5]  # bucket bounds are inclusive
    ours_registry, reference_registry = CollectorRegistry(), CollectorRegistry()
    ours = ScoreHistogram("s", "doc", ["a"], SCORE_BUCKETS, registry=ours_registry)
    reference = Histogram("s", "doc", ["a"], buckets=SCORE_BUCKETS, registry=reference_registry)
    ours.observe_one(("x",), float(values[0]))  # the single-applicant path
    ours.observe(("x",), values[1:])  # the vectorised path
    for value in values:
        reference.labels("x").observe(value)

    def parsed(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
        text = generate_latest(registry).decode()
        return {
            (s.name, s.labels.get("le", "")): round(s.value, 9)
            for f in text_string_to_metric_families(text)
            for s in f.samples
            if not s.name.endswith("_created")
        }

    assert parsed(ours_registry) == parsed(reference_registry)


def test_every_series_carries_the_model_labels() -> None:
    metrics = InferenceMetrics()
    metrics.serve(V1, ["a", "b"], "default", "models:/credit-default/1")
    metrics.observe_request(V1, "/api/v1/predict", "POST", 200, 0.01)
    metrics.observe_scores(V1, np.array([1, 0, 0]), np.array([0.9, 0.1, 0.2]))
    text = metrics.exposition().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert {"model_name", "model_version", "track"} <= set(sample.labels), sample
    outcomes = {s[0]["outcome"]: s[1] for s in samples(metrics, "inference_predictions_total")}
    assert outcomes == {"default": 1.0, "no_default": 2.0}
    ((labels, _),) = samples(metrics, "http_requests_total")
    assert labels == {
        "model_name": "credit-default",
        "model_version": "1",
        "track": "stable",
        "route": "/api/v1/predict",
        "method": "POST",
        "status": "200",
    }


def test_serving_a_new_version_replaces_info_and_drift_series() -> None:
    metrics = InferenceMetrics()
    metrics.serve(V1, ["a", "b"], "default", "models:/m/1")
    metrics.set_drift(V1, {"a": 0.5, "b": 0.1}, 0.3, True, 400)
    assert [v for _, v in samples(metrics, "inference_drift_samples")] == [400.0]
    metrics.observe_scores(V1, np.array([0]), np.array([0.1]))
    metrics.serve(V2, ["a"], "default", "models:/m/2")
    info = samples(metrics, "inference_model_info")
    assert [labels["model_version"] for labels, _ in info] == ["2"]
    assert info[0][0]["uri"] == "models:/m/2"
    assert info[0][0]["dataset"] == "default"
    psi = samples(metrics, "inference_feature_psi")
    assert [(labels["model_version"], labels["feature"], v) for labels, v in psi] == [("2", "a", 0)]
    assert [v for _, v in samples(metrics, "inference_drift_detected")] == [0.0]
    samples_v2 = samples(metrics, "inference_drift_samples")  # the new window starts empty
    assert [(labels["model_version"], v) for labels, v in samples_v2] == [("2", 0.0)]
    kept = samples(metrics, "inference_predictions_total")  # counters of v1 stay
    by_version = {(labels["model_version"], labels["outcome"]): v for labels, v in kept}
    assert by_version == {
        ("1", "default"): 0,
        ("1", "no_default"): 1,  # both from the start
        ("2", "default"): 0,
        ("2", "no_default"): 0,
    }


def flagger_success_rate(metrics: InferenceMetrics) -> float:
    """Flagger's built-in request-success-rate, unfiltered by route as Flagger runs it:
    non-5xx share of ``http_request_duration_seconds_count``."""
    counts = samples(metrics, "http_request_duration_seconds_count")
    total = sum(value for _, value in counts)
    ok = sum(value for labels, value in counts if not labels["status"].startswith("5"))
    return ok / total


def test_the_latency_histogram_times_api_routes_only_so_flagger_sees_scoring() -> None:
    """10 % of scoring requests fail; probes and scrapes (all 200) are counted in
    http_requests_total but kept out of the histogram Flagger's queries read."""
    metrics = InferenceMetrics()
    for i in range(100):
        metrics.observe_request(V1, "/api/v1/predict", "POST", 500 if i < 10 else 200, 0.01)
    for route in ("/healthz", "/readyz", "/metrics", "unmatched"):
        for _ in range(50):
            metrics.observe_request(V1, route, "GET", 200, 0.001)
    assert flagger_success_rate(metrics) == pytest.approx(0.90)
    timed = {
        labels["route"] for labels, _ in samples(metrics, "http_request_duration_seconds_count")
    }
    assert timed == {"/api/v1/predict"}
    counted = {labels["route"] for labels, _ in samples(metrics, "http_requests_total")}
    assert counted == {"/api/v1/predict", "/healthz", "/readyz", "/metrics", "unmatched"}


def test_any_method_token_a_client_invents_becomes_one_label_value() -> None:
    metrics = InferenceMetrics()
    for i in range(200):
        metrics.observe_request(V1, "/healthz", "M" * (i + 1), 405, 0.001)
    metrics.observe_request(V1, "/healthz", "GET", 200, 0.001)
    methods = sorted(labels["method"] for labels, _ in samples(metrics, "http_requests_total"))
    assert methods == ["GET", "OTHER"]
