"""The PromQL of every gate against a real Prometheus scraping a test exporter that holds
known samples (SPEC §5 metric names and labels)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from controller.prometheus import HttpMetricsSource, gather
from controller.queries import build_queries, scope_for
from controller.rollout.analysis import evaluate
from controller.rollout.readings import MetricReadings
from controller.status import RolloutStatus
from tests.integration.controller.prometheus_server import Exporter, PrometheusServer
from tests.support.processes import free_port
from tests.unit.controller.factories import spec

pytestmark = pytest.mark.integration

NAME = "credit-default"
PREDICT, BULK = "/api/v1/predict", "/api/v1/predict/bulk"
CUSTOM = 'sum(increase(http_requests_total{ {{ canary }},status="500" }[{{ window }}]))'
ROLLOUT = spec(
    analysis={"window": "30s", "custom": [{"name": "serverErrors", "query": CUSTOM, "max": 100}]}
)


def _requests(exp: Exporter, version: str, track: str, route: str, status: str, n: int) -> None:
    exp.requests.labels(NAME, version, track, route, "POST", status).inc(n)


def _seed(exp: Exporter) -> None:
    """Create every series at zero, so Prometheus sees them before the increments."""
    tracks = [("8", "canary"), ("7", "stable"), ("7", "canary"), ("6", "canary"), ("9", "canary")]
    for version, track in tracks:
        for route in (PREDICT, BULK):
            for status in ("200", "500"):
                exp.requests.labels(NAME, version, track, route, "POST", status)
                exp.latency.labels(NAME, version, track, route, "POST", status)
        for outcome in ("default", "no_default"):
            exp.predictions.labels(NAME, version, track, outcome)


def _traffic(exp: Exporter, young: Exporter) -> None:
    """Canary v8: 400 scoring requests, 8 of them 5xx (2 %), all at 300 ms, 14 % defaults,
    feature PSI 0.31 (income), score PSI 0.12 over 400 rows. Stable: 1000 fast requests,
    10 % defaults. An earlier canary (v7) was terrible and must not count; /healthz never
    counts. A second v8 pod just started (``young``): its PSI of 40 rows is noise. Canary
    v9 only predicts, with 37.5 % defaults: a shift far beyond the noise."""
    for route, ok, bad in [(PREDICT, 294, 6), (BULK, 98, 2)]:
        _requests(exp, "8", "canary", route, "200", ok)
        _requests(exp, "8", "canary", route, "500", bad)
    for _ in range(400):
        exp.latency.labels(NAME, "8", "canary", PREDICT, "POST", "200").observe(0.3)
    _requests(exp, "8", "canary", "/healthz", "200", 1000)
    _requests(exp, "7", "stable", PREDICT, "200", 1000)
    _requests(exp, "7", "canary", PREDICT, "500", 500)
    shares = [("8", "canary", 56, 344), ("7", "stable", 100, 900), ("9", "canary", 150, 250)]
    for version, track, default, other in shares:
        exp.predictions.labels(NAME, version, track, "default").inc(default)
        exp.predictions.labels(NAME, version, track, "no_default").inc(other)
    exp.feature_psi.labels(NAME, "8", "canary", "income").set(0.31)
    exp.feature_psi.labels(NAME, "8", "canary", "balance").set(0.05)
    exp.score_psi.labels(NAME, "8", "canary").set(0.12)
    exp.drift_samples.labels(NAME, "8", "canary").set(400)
    exp.feature_psi.labels(NAME, "7", "canary", "income").set(0.9)
    exp.drift_samples.labels(NAME, "7", "canary").set(1000)
    young.feature_psi.labels(NAME, "8", "canary", "income").set(0.95)
    young.score_psi.labels(NAME, "8", "canary").set(0.6)
    young.drift_samples.labels(NAME, "8", "canary").set(40)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    exporter, young = Exporter(), Exporter()
    _seed(exporter)
    targets = [exporter.target, young.target]
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), targets).start()
    try:
        server.wait_scrapes(3)
        _traffic(exporter, young)
        server.wait_scrapes(3)
        yield server
    finally:
        server.stop()
        exporter.close()
        young.close()


def _readings(prometheus: PrometheusServer, version: str = "8") -> MetricReadings:
    queries = build_queries(ROLLOUT, scope_for(ROLLOUT, NAME, version, "credit-risk"))
    return gather(HttpMetricsSource(prometheus.address), queries)


def test_every_gate_measures_the_canary(prometheus: PrometheusServer) -> None:
    # every query evaluated at one instant, so increase() extrapolates all series of the
    # exporter (scraped together) by the same factor, however late a loaded machine scraped
    at = f"{time.time():.3f}"
    source = HttpMetricsSource(
        prometheus.address, client=httpx.Client(timeout=5.0, params={"time": at})
    )
    readings = gather(source, build_queries(ROLLOUT, scope_for(ROLLOUT, NAME, "8", "credit-risk")))
    stable = 'sum(increase(http_requests_total{model_version="7",track="stable"}[30s]))'
    reply = httpx.get(
        f"{prometheus.address}/api/v1/query", params={"query": stable, "time": at}, timeout=5.0
    ).json()
    stable_requests = float(reply["data"]["result"][0]["value"][1])  # 1,000, extrapolated
    assert stable_requests >= 1000
    assert readings.online
    assert readings.error == ""
    assert readings.requests == pytest.approx(0.4 * stable_requests, rel=1e-6)  # 400 of 1,000
    gates = readings.gates
    assert gates["errorRatio"] == pytest.approx(0.02, rel=1e-3)
    assert gates["latencyP99"] == pytest.approx(0.25 + 0.25 * 0.99, rel=1e-3)  # in (0.25, 0.5]
    assert gates["featurePSI"] == pytest.approx(0.31)
    assert gates["scorePSI"] == pytest.approx(0.12)
    # 14 % vs 10 % over 400 and 1,000 predictions: 0.04 apart, less than 2.576 standard
    # errors (0.051) of the difference — inside the noise, so no shift is counted
    assert gates["positiveRateShift"] == 0
    assert gates["serverErrors"] == pytest.approx(0.008 * stable_requests, rel=1e-6)  # 8


def test_psi_gates_wait_for_enough_rows_in_a_pod_window(prometheus: PrometheusServer) -> None:
    strict = spec(analysis={"window": "30s", "minDriftSamples": 500})
    queries = build_queries(strict, scope_for(strict, NAME, "8", "credit-risk"))
    gates = gather(HttpMetricsSource(prometheus.address), queries).gates
    assert gates["featurePSI"] is None  # no v8 pod has 500 rows yet: no data, not a pass
    assert gates["scorePSI"] is None
    off = spec(analysis={"window": "30s", "minDriftSamples": 0})
    queries = build_queries(off, scope_for(off, NAME, "8", "credit-risk"))
    gates = gather(HttpMetricsSource(prometheus.address), queries).gates
    assert gates["featurePSI"] == pytest.approx(0.95)  # the young pod's noise counts
    assert gates["scorePSI"] == pytest.approx(0.6)


def test_a_shift_beyond_the_noise_is_counted_less_its_standard_errors(
    prometheus: PrometheusServer,
) -> None:
    shift = _readings(prometheus, "9").gates["positiveRateShift"]
    # 37.5 % vs 10 %: 0.275 less 2.576 × √(.375·.625/400 + .1·.9/1000) = 0.275 − 0.067
    # (increase() extrapolates both counts alike: the shares stay, the error moves a little)
    assert shift == pytest.approx(0.208, abs=0.01)
    assert shift > ROLLOUT.analysis.gates.positive_rate_shift.max  # type: ignore[operator]


def test_the_figures_fail_the_default_gates(prometheus: PrometheusServer) -> None:
    status = RolloutStatus(step=1, canary_weight=10, canary_version="8")
    record = evaluate(ROLLOUT, status, _readings(prometheus), datetime.now(UTC))
    assert record.verdict == "Failed"
    failed = {g.name for g in record.gates if g.verdict == "Failed"}
    assert failed == {"errorRatio", "latencyP99", "featurePSI"}


def test_a_version_without_series_has_no_data(prometheus: PrometheusServer) -> None:
    readings = _readings(prometheus, "99")
    assert readings.online
    assert readings.requests is None
    assert all(
        value is None for name, value in readings.gates.items() if name != "positiveRateShift"
    )


def test_series_without_traffic_give_zero_requests_and_no_ratio(
    prometheus: PrometheusServer,
) -> None:
    readings = _readings(prometheus, "6")
    assert readings.requests == 0
    assert readings.gates["errorRatio"] is None  # 0 / 0 is no data, not a pass
    assert readings.gates["latencyP99"] is None


def test_a_bad_custom_query_is_no_data_for_that_gate(prometheus: PrometheusServer) -> None:
    rollout = spec(analysis={"custom": [{"name": "broken", "query": "sum(rate(", "max": 1}]})
    queries = build_queries(rollout, scope_for(rollout, NAME, "8", "credit-risk"))
    readings = gather(HttpMetricsSource(prometheus.address), queries)
    assert readings.online
    assert readings.gates["broken"] is None
    assert "broken" in readings.error


def test_an_unreachable_prometheus_is_reported_as_such() -> None:
    source = HttpMetricsSource(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    queries = build_queries(ROLLOUT, scope_for(ROLLOUT, NAME, "8", "credit-risk"))
    readings = gather(source, queries)
    assert not readings.online
    assert readings.requests is None


def test_a_prometheus_that_stops_answering_mid_analysis(tmp_path: Path) -> None:
    exporter = Exporter()
    server = PrometheusServer(tmp_path, [exporter.target]).start()
    try:
        source = HttpMetricsSource(server.address, timeout=1.0)
        assert source.online()
        server.stop()
        queries = build_queries(ROLLOUT, scope_for(ROLLOUT, NAME, "8", "credit-risk"))
        assert not gather(source, queries).online
    finally:
        server.stop()
        exporter.close()
