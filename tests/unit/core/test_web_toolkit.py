"""The shared HTTP toolkit (``services.core.web``): validation details, OpenAPI error
entries, the raw-ASGI error sender, the JSON body reader and the access log."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from loguru import logger
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.types import Message

from services.core.errors import validation_details
from services.core.web.access_log import AccessLogMiddleware, is_logged
from services.core.web.asgi import send_error
from services.core.web.bodies import is_json, read_json
from services.core.web.errors import InvalidInput, install_error_handlers
from services.core.web.request_id import RequestIdMiddleware, given_id, new_request_id
from services.core.web.responses import ErrorDocs, ErrorResponse

pytestmark = pytest.mark.unit


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    x: float
    y: float


def test_validation_details_prefix_and_limit() -> None:
    errors = [{"loc": ("a", 0), "msg": "bad", "type": "t", "input": "secret"}] * 3
    details = validation_details(errors, ("body",), limit=2)
    assert details == [{"loc": ["body", "a", "0"], "msg": "bad", "type": "t"}] * 2


def test_invalid_input_counts_every_error_and_lists_the_first() -> None:
    with pytest.raises(ValidationError) as caught:
        Point.model_validate_json(b'{"x": "1", "z": 2}')
    error = InvalidInput.of(caught.value, limit=1)
    assert error.status_code == 422
    assert error.message == "3 validation error(s) (first 1 shown)"
    assert error.details == [{"loc": ["body", "x"], "msg": "Input should be a valid number",
                              "type": "float_type"}]  # fmt: skip


def test_error_docs_add_the_always_statuses_in_order() -> None:
    docs = ErrorDocs({401: "no key", 403: "bad key", 422: "invalid"}, always=(401,))
    entries = docs(422, 403)
    assert list(entries) == [401, 403, 422]
    assert entries[403] == {"model": ErrorResponse, "description": "bad key"}
    with pytest.raises(KeyError):
        docs(404)


async def test_send_error_sends_the_json_error_body() -> None:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await send_error(send, 503, "unavailable", "later", headers={"Retry-After": "5"})
    start, body = sent
    assert start["status"] == 503
    assert (b"retry-after", b"5") in start["headers"]
    assert (b"content-length", str(len(body["body"])).encode()) in start["headers"]
    payload = json.loads(body["body"])
    assert payload["error"] == {"code": "unavailable", "message": "later", "details": []}


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("application/json", True),
        ("Application/JSON; charset=utf-8", True),
        ("application/problem+json", True),
        ("text/plain", False),
        (None, False),
    ],
)
def test_is_json(content_type: str | None, expected: bool) -> None:
    assert is_json(content_type) is expected


def app(log_probes: bool = False) -> FastAPI:
    application = FastAPI()
    install_error_handlers(application)

    @application.post("/points")
    async def points(request: Request) -> dict[str, Any]:
        return (await read_json(request, Point)).model_dump()

    @application.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    application.add_middleware(AccessLogMiddleware, log_probes=log_probes)
    application.add_middleware(RequestIdMiddleware)
    return application


@pytest.fixture
def lines() -> Iterator[list[str]]:
    captured: list[str] = []
    sink = logger.add(lambda m: captured.append(m.record["message"]), level="INFO")
    yield captured
    logger.remove(sink)


async def call(application: FastAPI, method: str, path: str, **kw: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=application)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path, **kw)


async def test_read_json_answers_415_and_422(lines: list[str]) -> None:
    ok = await call(app(), "POST", "/points", json={"x": 1.0, "y": 2.0})
    assert ok.json() == {"x": 1.0, "y": 2.0}
    text = await call(app(), "POST", "/points", content=b"{}", headers={"content-type": "text/x"})
    assert text.status_code == 415
    bad = await call(app(), "POST", "/points", json={"x": 1.0})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["loc"] == ["body", "y"]


async def test_access_log_leaves_out_probes_unless_asked(lines: list[str]) -> None:
    await call(app(), "GET", "/healthz")
    await call(app(), "POST", "/points", json={"x": 1.0, "y": 2.0})
    assert [line.rsplit(" ", 2)[0] for line in lines] == ["POST /points 200"]
    lines.clear()
    await call(app(log_probes=True), "GET", "/healthz")
    assert [line.rsplit(" ", 2)[0] for line in lines] == ["GET /healthz 200"]


def test_probe_paths() -> None:
    assert not is_logged("/metrics", log_probes=False)
    assert not is_logged("/readyz", log_probes=False)
    assert is_logged("/readyz", log_probes=True)
    assert is_logged("/api/v1/predict", log_probes=False)


def test_generated_request_ids_are_uuid4_hex() -> None:
    ids = {new_request_id() for _ in range(200)}
    assert len(ids) == 200
    for value in ids:
        assert value == uuid.UUID(hex=value).hex
        assert uuid.UUID(hex=value).version == 4
        assert uuid.UUID(hex=value).variant == uuid.RFC_4122


def test_the_last_request_id_header_counts() -> None:
    headers = [(b"host", b"t"), (b"x-request-id", b"a"), (b"x-request-id", b"b")]
    assert given_id(headers) == "b"
    assert given_id([(b"host", b"t")]) == ""
