"""Live drift on synthetic traffic and the labels of every metric series."""

from __future__ import annotations

import pytest

from services.core.synthetic import Drift
from tests.integration.inference.harness import (
    applicants,
    make_settings,
    metric,
    running,
)
from tests.support.models import TrainedModel

pytestmark = pytest.mark.integration

V1 = {"model_name": "default-model", "model_version": "1"}


async def test_undrifted_traffic_keeps_the_gauge_off_drifted_traffic_turns_it_on(
    default_model: TrainedModel,
) -> None:
    async with running(make_settings(default_model, drift_window=1000)) as svc:
        for seed in range(2):  # 1,000 rows through bulk, 100 through single predictions
            assert (await svc.bulk(applicants("default", 500, seed=seed))).status_code == 200
        for row in applicants("default", 100, seed=9):
            assert (await svc.predict(row)).status_code == 200
        calm = await svc.metrics()
        assert metric(calm, "inference_drift_detected", **V1) == 0
        assert metric(calm, "inference_feature_psi", feature="income", **V1) < 0.1
        assert metric(calm, "inference_score_psi", **V1) < 0.1
        assert metric(calm, "inference_drift_samples", **V1) == 1000  # the window is full

        drifted = applicants("default", 1000, seed=42, drift=[Drift("income", shift=-0.3)])
        assert (await svc.bulk(drifted)).status_code == 200
        alarm = await svc.metrics()
        assert metric(alarm, "inference_drift_detected", **V1) == 1
        assert metric(alarm, "inference_feature_psi", feature="income", **V1) > 0.2
        assert metric(alarm, "inference_feature_psi", feature="student", **V1) < 0.1
        drift = (await svc.info())["drift"]
        assert drift["detected"]
        assert drift["samples"] == 1000


async def test_every_series_is_labelled_with_model_and_track(
    default_model: TrainedModel,
) -> None:
    async with running(make_settings(default_model, track="canary")) as svc:
        rows = applicants("default", 30, seed=4)
        await svc.bulk(rows)
        await svc.predict(rows[0])
        await svc.predict({"student": "No"})  # 422
        await svc.predict(rows[0], headers={})  # 401
        samples = await svc.metrics()
    labels = {"model_name": "default-model", "model_version": "1", "track": "canary"}
    names = {name for name, _, _ in samples}
    for name in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "inference_predictions_total",
        "inference_score_bucket",
        "inference_feature_psi",
        "inference_score_psi",
        "inference_drift_detected",
        "inference_drift_samples",
        "inference_model_info",
    ):
        assert name in names
    for name, sample_labels, _ in samples:
        assert labels.items() <= sample_labels.items(), (name, sample_labels)
    predict = {"route": "/api/v1/predict", "method": "POST"}
    assert metric(samples, "http_requests_total", status="200", **predict) == 1
    assert metric(samples, "http_requests_total", status="422", **predict) == 1
    assert metric(samples, "http_requests_total", status="401", **predict) == 1
    assert metric(samples, "http_request_duration_seconds_count", status="200", **predict) == 1
    assert metric(samples, "inference_drift_samples") == 31
    scored = sum(v for n, _, v in samples if n == "inference_predictions_total")
    assert scored == 31 == metric(samples, "inference_score_count")
    info = metric(samples, "inference_model_info", dataset="default", uri="models:/default-model/1")
    assert info == 1


async def test_injected_faults_are_counted_as_errors_of_their_route(
    default_model: TrainedModel,
) -> None:
    settings = make_settings(default_model, fault_error_rate=1.0, fault_latency_ms=5)
    async with running(settings) as svc:
        row = applicants("default", 1)[0]
        failed = await svc.predict(row)
        assert failed.status_code == 500
        assert failed.json()["error"]["code"] == "injected_fault"
        assert (await svc.client.get("/readyz")).status_code == 200
        samples = await svc.metrics()
    assert metric(samples, "http_requests_total", route="/api/v1/predict", status="500") == 1


async def test_invented_methods_and_probes_do_not_grow_the_metrics(
    default_model: TrainedModel,
) -> None:
    """An anonymous client sending 100 different method tokens to /healthz adds one series
    (method="OTHER"), and probes, scrapes and unknown paths stay out of the latency
    histogram that Flagger's built-in queries read."""
    async with running(make_settings(default_model)) as svc:
        for i in range(100):
            await svc.client.request("M" * (i + 1) * 20, "/healthz")
        await svc.client.get("/readyz")
        await svc.client.get("/no/such/path")
        await svc.predict(applicants("default", 1, seed=3)[0])
        samples = await svc.metrics()
    requests = {
        (labels["route"], labels["method"], labels["status"])
        for name, labels, _ in samples
        if name == "http_requests_total"
    }
    assert requests == {
        ("/healthz", "OTHER", "405"),
        ("/readyz", "GET", "200"),
        ("unmatched", "GET", "404"),
        ("/api/v1/predict", "POST", "200"),
    }
    assert metric(samples, "http_requests_total", route="/healthz", method="OTHER") == 100
    timed = {
        labels["route"]
        for name, labels, _ in samples
        if name == "http_request_duration_seconds_count"
    }
    assert timed == {"/api/v1/predict"}
