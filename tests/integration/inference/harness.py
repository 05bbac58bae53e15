"""Helpers for the inference integration tests: settings, the app in-process (httpx over
ASGI, lifespan run), a real uvicorn server in a thread, metrics parsing, applicants."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from services.core.datasets import load_config
from services.core.decisions.settings import DecisionSettings
from services.core.synthetic import ApplicantGenerator, Drift
from services.core.web.auth import hash_key
from services.core.web.serving import HTTP_PARSER
from services.inference.app import create_app
from services.inference.settings import InferenceSettings
from tests.support.models import TrainedModel
from tests.support.processes import free_port

API_KEY = "test-client-key"
OTHER_KEY = "test-other-key"
ADMIN_KEY = "test-admin-key"
AUTH = {"X-API-Key": API_KEY}
ADMIN = {"X-Admin-Key": ADMIN_KEY}


def make_settings(model: TrainedModel | None = None, **overrides: Any) -> InferenceSettings:
    options: dict[str, Any] = {
        "api_key_hashes": [hash_key(API_KEY), hash_key(OTHER_KEY)],
        "admin_key_hash": hash_key(ADMIN_KEY),
        "rate_limit": "",
        "log_json": False,
        "gc_freeze": False,  # process-wide; tested on its own in test_endpoints
    }
    if model is not None:
        options.update(model_uri=model.uri, mlflow_tracking_uri=model.tracking_uri)
    options.update(overrides)
    return InferenceSettings(**options)


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient

    async def predict(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(
            "/api/v1/predict", json=body, headers=AUTH if headers is None else headers
        )

    async def bulk(
        self, rows: Sequence[Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.client.post(
            "/api/v1/predict/bulk",
            json={"applicants": list(rows)},
            headers=AUTH if headers is None else headers,
        )

    async def info(self) -> dict[str, Any]:
        response = await self.client.get("/api/v1/model/info", headers=AUTH)
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        response = await self.client.get("/metrics")
        assert response.status_code == 200
        return parse_metrics(response.text)


@asynccontextmanager
async def running(
    settings: InferenceSettings, record: DecisionSettings | None = None
) -> AsyncIterator[Service]:
    """The app with its lifespan (model load, watcher) and an httpx client over ASGI; the
    decision record is off unless ``record`` is given."""
    app = create_app(settings, record or DecisionSettings(dsn=""))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inference") as client:
            yield Service(app, client)


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def metric(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    """The one sample of ``name`` whose labels include ``labels``."""
    found = [v for n, lab, v in samples if n == name and labels.items() <= lab.items()]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def applicants(
    dataset: str, n: int, seed: int = 0, drift: Sequence[Drift] = ()
) -> list[dict[str, Any]]:
    """Realistic synthetic applicants as JSON-ready dicts (missing values as ``None``)."""
    frame = ApplicantGenerator.from_config(load_config(dataset)).sample(n, seed=seed, drift=drift)
    return [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]


class LiveServer:
    """The app behind a real uvicorn server in a background thread (real sockets), with
    the service's HTTP parser and asyncio's loop, as ``python -m services.inference``."""

    def __init__(self, app: FastAPI, http: str = HTTP_PARSER) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            http=http,
            loop="asyncio",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive(), "server thread died"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
