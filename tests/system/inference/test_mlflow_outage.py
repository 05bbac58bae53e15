"""The MLflow tracking server goes away: a real ``mlflow server`` (sqlite backend, proxied
artifacts) serving the registry, a real inference process loading ``models:/name@alias``
through it.

* Unreachable at start-up: the process starts anyway, ``/healthz`` 200, ``/readyz`` 503
  with the reason, predictions 503; when MLflow is back on its port, the same process turns
  ready by itself and scores.
* Unreachable during a reload: the reload is refused with the reason, the old version keeps
  answering every request and readiness stays 200; once MLflow is back the next reload
  serves the version the alias moved to.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from services.core.registry import set_alias
from tests.support.models import train_quick
from tests.support.waits import wait_for
from tests.system.inference.servers import ADMIN, AUTH, MlflowServer, SpawnInference

pytestmark = pytest.mark.system

NAME = "outage-model"
ROW = {"student": "No", "balance": 1500.0, "income": 30000.0}


@dataclass(frozen=True)
class Registry:
    server: MlflowServer
    versions: tuple[str, ...]


@pytest.fixture(scope="module")
def registry(mlflow_server: MlflowServer) -> Registry:
    """Two versions of ``outage-model`` trained and registered through the MLflow server
    (v1 takes ``champion``, v2 passes the gate as ``challenger``)."""
    first = train_quick(mlflow_server.tracking_uri, "default", model_name=NAME, seed=1)
    second = train_quick(mlflow_server.tracking_uri, "default", model_name=NAME, seed=2)
    assert "champion" in first.summary.aliases
    return Registry(mlflow_server, (first.summary.version, second.summary.version))


@pytest.fixture
def running_registry(registry: Registry) -> Iterator[Registry]:
    """The registry, up at the start and brought back up after the test, whatever happened."""
    if not registry.server.alive():
        registry.server.start()
    yield registry
    if not registry.server.alive():
        registry.server.start()


@dataclass
class Traffic:
    """Scores ``ROW`` in a loop from a thread; records (status, model version) per answer."""

    url: str
    answers: list[tuple[int, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, headers=AUTH, timeout=30) as http:
            while not self._stop.is_set():
                try:
                    response = http.post("/api/v1/predict", json=ROW)
                except httpx.HTTPError as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    continue
                version = response.json()["model"]["version"] if response.is_success else ""
                self.answers.append((response.status_code, version))
                time.sleep(0.01)

    @contextmanager
    def running(self) -> Iterator[Traffic]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=30)


def test_unreachable_at_start_up_then_ready_without_restart(
    running_registry: Registry, spawn_inference: SpawnInference
) -> None:
    mlflow = running_registry.server
    mlflow.stop()
    started = time.monotonic()
    server = spawn_inference(f"models:/{NAME}@champion", mlflow.tracking_uri, load_retry_seconds=1)
    listening_after = time.monotonic() - started
    pid = server.pid
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/healthz").status_code == 200
        unready = http.get("/readyz")
        assert unready.status_code == 503, unready.text
        reason = unready.json()["reason"]
        assert f"models:/{NAME}@champion" in reason
        assert mlflow.tracking_uri in reason  # says which server it could not reach
        refused = http.post("/api/v1/predict", json=ROW, headers=AUTH)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"]
        assert refused.json()["error"]["code"] == "unavailable"
        assert refused.json()["error"]["message"] == "no model loaded yet"
        wait_for(  # the load is retried meanwhile (every second, ~3 s per failed try)
            "two refused load retries",
            lambda: server.log.read_text().count("reload refused") >= 2,
            60,
            0.2,
        )
        assert http.get("/readyz").status_code == 503

        mlflow.start()
        ready_after = server.wait_ready(timeout=60)
        assert server.pid == pid
        assert server.alive()
        ready = http.get("/readyz").json()
        assert ready["model"]["version"] == running_registry.versions[0]
        scored = http.post("/api/v1/predict", json=ROW, headers=AUTH)
        assert scored.status_code == 200, scored.text
        assert scored.json()["model"] == {
            "name": NAME,
            "version": running_registry.versions[0],
            "track": "stable",
        }
    print(
        f"MLflow down: inference listening after {listening_after:.1f} s, /readyz 503 "
        f"({reason[:160]}...); MLflow back: ready after {ready_after:.1f} s, same pid {pid}"
    )


def test_unreachable_during_a_reload_keeps_the_old_model(
    running_registry: Registry, spawn_inference: SpawnInference
) -> None:
    mlflow = running_registry.server
    old, new = running_registry.versions
    set_alias(mlflow.tracking_uri, NAME, "live", old)
    server = spawn_inference(f"models:/{NAME}@live", mlflow.tracking_uri, reload_poll_seconds=1)
    server.wait_ready()
    with (
        httpx.Client(base_url=server.url, timeout=60) as http,
        Traffic(server.url).running() as traffic,
    ):
        failed_polls = server.log.read_text().count("model watcher:")
        mlflow.stop()
        set_alias(mlflow.backend_uri, NAME, "live", new)  # moved while the server is away
        wait_for(  # the alias watcher polls (and fails) meanwhile, the old model serving
            "two failed alias polls",
            lambda: server.log.read_text().count("model watcher:") >= failed_polls + 2,
            60,
            0.2,
        )
        began = time.monotonic()
        refused = http.post("/api/v1/admin/reload", headers=ADMIN)
        refused_after = time.monotonic() - began
        assert refused.status_code == 409, refused.text
        message = refused.json()["error"]["message"]
        assert message.startswith("reload refused: cannot load model")
        assert mlflow.tracking_uri in message
        assert http.get("/readyz").status_code == 200
        info = http.get("/api/v1/model/info", headers=AUTH).json()
        assert info["model"]["version"] == old
        assert info["last_reload"]["ok"] is False
        assert (
            http.post("/api/v1/predict", json=ROW, headers=AUTH).json()["model"]["version"] == old
        )
        during_outage = len(traffic.answers)

        mlflow.start()
        reloaded = http.post("/api/v1/admin/reload", headers=ADMIN)
        assert reloaded.status_code == 200, reloaded.text
        assert reloaded.json()["version"] == new  # the watcher may have swapped it first
        assert http.get("/readyz").json()["model"]["version"] == new
        wait_for(
            "the traffic to be answered by the new version",
            lambda: traffic.answers and traffic.answers[-1][1] == new,
            30,
        )
    assert not traffic.errors, traffic.errors[:5]
    statuses = {status for status, _ in traffic.answers}
    assert statuses == {200}, statuses
    versions = [version for _, version in traffic.answers]
    assert set(versions[:during_outage]) == {old}
    assert versions[-1] == new
    assert versions == sorted(versions, key=[old, new].index)  # never back to the old one
    print(
        f"reload during the outage refused after {refused_after:.1f} s ({message[:160]}...); "
        f"{len(versions)} predictions, all 200: {versions.count(old)} by v{old}, "
        f"{versions.count(new)} by v{new}"
    )
