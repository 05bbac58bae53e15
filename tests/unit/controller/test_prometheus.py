"""The metrics adapter's parsing and error semantics (HTTP faked with httpx.MockTransport)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from controller.prometheus import (
    FakeMetricsSource,
    HttpMetricsSource,
    PrometheusUnavailable,
    QueryError,
    SharedHttpMetrics,
    gather,
    gather_paired,
    parse_result,
    parse_vector,
    run_all,
)
from controller.queries import PairedQueries, QuerySet

pytestmark = pytest.mark.unit

QUERIES = QuerySet("REQ", {"errorRatio": "ERR", "custom": "BAD"})


def vector(*values: str) -> dict[str, Any]:
    return {"resultType": "vector", "result": [{"metric": {}, "value": [0, v]} for v in values]}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (vector("0.25"), 0.25),
        (vector(), None),
        (vector("NaN"), None),
        (vector("+Inf"), None),
        ({"resultType": "scalar", "result": [0, "3"]}, 3.0),
    ],
)
def test_parse_result(data: dict[str, Any], expected: float | None) -> None:
    assert parse_result(data) == expected


def test_several_series_or_a_matrix_are_query_errors() -> None:
    with pytest.raises(QueryError, match="aggregate"):
        parse_result(vector("1", "2"))
    with pytest.raises(QueryError):
        parse_result({"resultType": "matrix", "result": []})


def source(handler: Any) -> HttpMetricsSource:
    return HttpMetricsSource(
        "http://prom", client=httpx.Client(transport=httpx.MockTransport(handler))
    )


def test_http_source_answers_and_reports_errors() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        query = request.url.params.get("query")
        if request.url.path == "/-/ready":
            return httpx.Response(200)
        if query == "BAD":
            return httpx.Response(400, json={"status": "error", "error": "parse error"})
        return httpx.Response(200, json={"status": "success", "data": vector("12")})

    readings = gather(source(handler), QUERIES)
    assert readings.online
    assert readings.requests == 12
    assert readings.gates == {"errorRatio": 12, "custom": None}
    assert "parse error" in readings.error


def test_http_5xx_and_connection_errors_mean_unreachable() -> None:
    down = source(lambda request: httpx.Response(503))
    assert not down.online()
    with pytest.raises(PrometheusUnavailable):
        down.query("up")

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    assert not gather(source(refuse), QUERIES).online


def test_fake_source_by_gate_name_and_outage() -> None:
    fake = FakeMetricsSource({"requests": 300, "errorRatio": 0.0})
    readings = gather(fake, QUERIES)
    assert (readings.requests, readings.gates["errorRatio"], readings.gates["custom"]) == (
        300,
        0.0,
        None,
    )
    assert [name for name, _ in fake.asked] == ["requests", "errorRatio", "custom"]
    fake.is_online = False
    assert not gather(fake, QUERIES).online
    assert gather(FakeMetricsSource(lambda name: 1.0), QUERIES).gates["custom"] == 1.0


PAIRED = PairedQueries("DEC", "BANDS", "DSUM", "DCOUNT", "CAND", "BASE")


def test_parse_vector_keeps_labels_and_drops_nan() -> None:
    data = {
        "resultType": "vector",
        "result": [
            {"metric": {"le": "0.5"}, "value": [0, "3"]},
            {"metric": {"le": "+Inf"}, "value": [0, "NaN"]},
            {"value": [0, "1"]},
        ],
    }
    assert parse_vector(data) == [({"le": "0.5"}, 3.0), ({}, 1.0)]
    assert parse_vector({"resultType": "vector", "result": []}) == []
    with pytest.raises(QueryError):
        parse_vector({"resultType": "scalar", "result": [0, "1"]})


def test_http_source_vector_queries() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/-/ready":
            return httpx.Response(200)
        query = request.url.params.get("query")
        if query == "BANDS":
            return httpx.Response(400, json={"status": "error", "error": "parse error"})
        if query in ("DSUM", "DCOUNT"):
            return httpx.Response(200, json={"status": "success", "data": vector("10")})
        result = [{"metric": {"outcome": "default", "le": "1"}, "value": [0, "7"]}]
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "vector", "result": result}}
        )

    readings = gather_paired(source(handler), PAIRED)
    assert readings.online
    assert readings.decisions == (({"outcome": "default", "le": "1"}, 7.0),)
    assert readings.bands == ()  # a bad query is no data for its part
    assert (readings.diff_sum, readings.diff_count) == (10, 10)
    assert readings.candidate_buckets == readings.baseline_buckets == readings.decisions
    assert readings.error == "pairedBands: pairedBands: parse error"


def test_gather_paired_unreachable_and_not_ready() -> None:
    assert not gather_paired(source(lambda request: httpx.Response(503)), PAIRED).online
    fake = FakeMetricsSource(online=False)
    readings = gather_paired(fake, PAIRED)
    assert not readings.online
    assert readings.error == "Prometheus is not ready"


def test_fake_source_answers_vectors_by_name() -> None:
    decisions = [({"outcome": "default", "baseline_outcome": "default"}, 5.0)]
    fake = FakeMetricsSource({"pairedDiffSum": 1.0}, vectors={"pairedDecisions": decisions})
    readings = gather_paired(fake, PAIRED)
    assert readings.decisions == tuple(decisions)
    assert readings.diff_sum == 1.0
    assert readings.diff_count is None
    assert [name for name, _ in fake.asked] == [
        "pairedDecisions",
        "pairedBands",
        "pairedDiffSum",
        "pairedDiffCount",
        "candidateScore",
        "baselineScore",
    ]
    fake.is_online = True

    def down(promql: str, name: str = "") -> list[tuple[dict[str, str], float]]:
        raise PrometheusUnavailable("gone")

    fake.query_vector = down  # type: ignore[method-assign]
    assert gather_paired(fake, PAIRED).error == "gone"


# ------------------------------------------------- shared clients, concurrent queries
def slow_handler(seen: list[str]) -> Any:
    """Answers every query with a value derived from it, after a short pause, and records
    the paths asked (to count the readiness probes)."""

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/-/ready":
            return httpx.Response(200)
        query = request.url.params.get("query") or ""
        time.sleep(0.02)
        if query == "BAD":
            return httpx.Response(400, json={"status": "error", "error": "parse error"})
        if query == "SLOWDOWN":
            return httpx.Response(503)
        if query in ("DEC", "BANDS", "CAND", "BASE"):
            result = [{"metric": {"q": query}, "value": [0, str(len(query))]}]
            data = {"resultType": "vector", "result": result}
            return httpx.Response(200, json={"status": "success", "data": data})
        return httpx.Response(200, json={"status": "success", "data": vector(str(len(query)))})

    return handler


def test_gather_on_a_pool_reads_what_a_loop_reads() -> None:
    queries = QuerySet("REQ", {"errorRatio": "ERR", "custom": "BAD", "other": "OTHERQ"})
    seen: list[str] = []
    with ThreadPoolExecutor(4) as pool:
        together = gather(source(slow_handler(seen)), queries, pool)
        in_turn = gather(source(slow_handler(seen)), queries)
        assert together == in_turn
        assert list(together.gates) == ["errorRatio", "custom", "other"]
        assert together.error == "custom: custom: parse error"
        paired = gather_paired(source(slow_handler(seen)), PAIRED, pool)
        assert paired == gather_paired(source(slow_handler(seen)), PAIRED)
        assert paired.decisions == (({"q": "DEC"}, 3.0),)
        down = QuerySet("REQ", {"a": "ERR", "b": "SLOWDOWN", "c": "BAD"})
        assert gather(source(slow_handler(seen)), down, pool) == gather(
            source(slow_handler(seen)), down
        )
        assert not gather(source(slow_handler(seen)), down, pool).online


def test_run_all_keeps_the_order_and_raises_the_first_error_in_order() -> None:
    def fail(message: str) -> Any:
        def call() -> int:
            raise ValueError(message)

        return call

    with ThreadPoolExecutor(3) as pool:
        assert run_all([lambda: 1, lambda: 2, lambda: 3], pool) == [1, 2, 3]
        with pytest.raises(ValueError, match="first"):
            run_all([lambda: 1, fail("first"), fail("second")], pool)
    assert run_all([lambda: 1]) == [1]


def test_readiness_is_trusted_for_its_ttl_and_asked_again_after_a_failure() -> None:
    seen: list[str] = []
    trusting = HttpMetricsSource(
        "http://prom",
        client=httpx.Client(transport=httpx.MockTransport(slow_handler(seen))),
        ready_ttl=60,
    )
    assert trusting.online()
    assert trusting.online()
    assert seen.count("/-/ready") == 1
    with pytest.raises(PrometheusUnavailable):
        trusting.query("SLOWDOWN")
    assert trusting.online()
    assert seen.count("/-/ready") == 2
    plain = source(slow_handler(seen))  # ready_ttl 0: asked every time (as before)
    assert plain.online()
    assert plain.online()
    assert seen.count("/-/ready") == 4


def test_shared_sources_are_one_per_address_and_timeout() -> None:
    shared = SharedHttpMetrics(connections=4)
    first = shared.source("http://prom:9090/", 5.0)
    assert shared.source("http://prom:9090", 5.0) is first
    assert shared.source("http://prom:9090", 2.0) is not first
    assert shared.source("http://other:9090", 5.0) is not first
    assert first.address == "http://prom:9090"
    assert first.ready_ttl == shared.ready_ttl
    shared.close()
    assert first.client.is_closed
    assert shared.source("http://prom:9090", 5.0) is not first
    shared.close()
