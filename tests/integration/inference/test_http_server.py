"""The service behind a real uvicorn server with its HTTP parser (httptools): request ids,
JSON error bodies, keep-alive and micro-batching over real sockets, as in production, and
the same answers as with uvicorn's pure-Python parser (h11) it replaced."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from services.core.web.serving import HTTP_PARSER
from services.inference.app import create_app
from services.inference.scoring import Scorer
from tests.integration.inference.harness import AUTH, LiveServer, make_settings
from tests.support.models import TrainedModel

pytestmark = pytest.mark.integration

ROW = {"student": "No", "balance": 900.0, "income": 30000.0}


@pytest.fixture(scope="module", params=[HTTP_PARSER, "h11"])
def server(request: pytest.FixtureRequest, default_model: TrainedModel) -> Iterator[LiveServer]:
    with LiveServer(create_app(make_settings(default_model)), http=request.param) as live:
        yield live


def test_the_service_parses_with_httptools(default_model: TrainedModel) -> None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    assert HTTP_PARSER == "httptools"
    with LiveServer(create_app(make_settings(default_model))) as live:
        assert live.server.config.http_protocol_class is HttpToolsProtocol


def test_keep_alive_serves_many_requests_on_one_connection(server: LiveServer) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.connect()
    sock = connection.sock
    try:
        for i in range(5):
            connection.request(
                "POST",
                "/api/v1/predict",
                json.dumps(ROW),
                {**AUTH, "Content-Type": "application/json", "X-Request-ID": f"ka-{i}"},
            )
            response = connection.getresponse()
            body = json.loads(response.read())
            assert response.status == 200, body
            assert body["request_id"] == f"ka-{i}" == response.getheader("x-request-id")
            assert response.getheader("connection") != "close"
            assert connection.sock is sock  # the same socket: kept alive
        connection.request("GET", "/api/v1/nothing")  # an error keeps the connection too
        missing = connection.getresponse()
        assert missing.status == 404
        assert "error" in json.loads(missing.read())
        assert connection.sock is sock
    finally:
        connection.close()


def test_request_ids_are_echoed_generated_and_sanitised(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=10) as client:
        given = client.post("/api/v1/predict", json=ROW, headers={"X-Request-ID": "req-7"})
        generated = client.post("/api/v1/predict", json=ROW)
        evil = client.post("/api/v1/predict", json=ROW, headers={"X-Request-ID": "a b\tc"})
    assert given.json()["request_id"] == "req-7" == given.headers["x-request-id"]
    assert len(generated.json()["request_id"]) == 32
    assert generated.headers["x-request-id"] == generated.json()["request_id"]
    assert " " not in evil.headers["x-request-id"]
    assert evil.headers["x-request-id"] == evil.json()["request_id"]


@pytest.mark.parametrize(
    ("headers", "content", "status", "code"),
    [
        ({}, json.dumps(ROW), 401, "unauthorized"),
        ({"X-API-Key": "nope"}, json.dumps(ROW), 403, "forbidden"),
        (AUTH, "{not json", 422, "invalid_input"),
        (AUTH, json.dumps({"student": "No"}), 422, "invalid_input"),
        ({**AUTH, "Content-Type": "text/plain"}, json.dumps(ROW), 415, "unsupported_media_type"),
    ],
)
def test_client_errors_are_json_bodies_with_the_request_id(
    server: LiveServer, headers: dict[str, str], content: str, status: int, code: str
) -> None:
    sent = {"Content-Type": "application/json", **headers, "X-Request-ID": f"err-{status}"}
    response = httpx.post(f"{server.url}/api/v1/predict", content=content, headers=sent)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"]["code"] == code
    assert response.headers["x-request-id"] == f"err-{status}"


def test_concurrent_requests_over_sockets_are_micro_batched(server: LiveServer) -> None:
    scorer: Scorer = server.server.config.app.state.scorer
    before_rows, before_flushes = scorer.scores.batched_rows, scorer.scores.flushes
    answers: list[int] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http_:
            for _ in range(25):
                status = http_.post("/api/v1/predict", json=ROW).status_code
                with lock:
                    answers.append(status)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [200] * 200
    rows = scorer.scores.batched_rows - before_rows
    flushes = scorer.scores.flushes - before_flushes
    assert flushes > 0
    assert rows > flushes, (rows, flushes)  # some calls scored several rows
