"""Reloading without downtime: swap under load, refusals keep the old model, alias polling,
and a service that starts before its model exists."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pytest

from services.core.registry import client, set_alias
from services.inference.app import create_app
from tests.integration.inference.harness import (
    ADMIN,
    AUTH,
    LiveServer,
    Service,
    make_settings,
    running,
)
from tests.support.models import TrainedModel, tracking_uri_for, train_quick
from tests.support.waits import wait_for, wait_for_async

pytestmark = pytest.mark.integration

NAME = "reload-model"
ROW = {"student": "No", "balance": 900.0, "income": 30000.0}


@dataclass(frozen=True)
class Versions:
    tracking_uri: str

    def uri(self, version: int | str) -> str:
        return f"models:/{NAME}/{version}"


def register_broken(tracking_uri: str, good: str) -> str:
    """A registered version whose contract is fine but whose booster is garbage."""
    registry = client(tracking_uri)
    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=good))
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run() as run:
        target = Path(tmp) / "model"
        target.mkdir()
        shutil.copy(next(folder.rglob("contract.json")), target / "contract.json")
        (target / "booster.ubj").write_bytes(b"\x00 not a booster \x00")
        mlflow.log_artifacts(str(target), artifact_path="model")
        version = registry.create_model_version(
            NAME, f"{run.info.artifact_uri}/model", run.info.run_id
        )
    return str(version.version)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Versions:
    """Three versions of one registered model: 1 and 2 trained for real, 3 broken."""
    tracking_uri = tracking_uri_for(tmp_path_factory.mktemp("reload-mlflow"))
    train_quick(tracking_uri, "default", model_name=NAME, seed=1)
    train_quick(tracking_uri, "default", model_name=NAME, seed=2)
    assert register_broken(tracking_uri, f"models:/{NAME}/1") == "3"
    return Versions(tracking_uri)


def registered_copy(
    model: TrainedModel,
    versions: Versions,
    folder: Path,
    edit: Callable[[dict], None] | None = None,
) -> str:
    """``model``'s files (its contract edited) as a new registered version of ``NAME``:
    reload takes registry URIs of the served model only."""
    client(model.tracking_uri)
    path = Path(mlflow.artifacts.download_artifacts(artifact_uri=model.uri, dst_path=str(folder)))
    if edit is not None:
        contract_path = next(path.rglob("contract.json"))
        contract = json.loads(contract_path.read_text())
        edit(contract)
        contract_path.write_text(json.dumps(contract))
    registry = client(versions.tracking_uri)  # explicit client: no fluent run state
    run = registry.create_run(registry.get_experiment_by_name("Default").experiment_id)
    registry.log_artifacts(run.info.run_id, str(path), artifact_path="model")
    registry.set_terminated(run.info.run_id)
    made = registry.create_model_version(NAME, f"{run.info.artifact_uri}/model", run.info.run_id)
    return versions.uri(made.version)


async def reload(svc: Service, body: dict | None = None) -> httpx.Response:
    return await svc.client.post("/api/v1/admin/reload", json=body, headers=ADMIN)


def test_swap_under_load_fails_no_request(versions: Versions) -> None:
    app = create_app(
        make_settings(model_uri=versions.uri(1), mlflow_tracking_uri=versions.tracking_uri)
    )
    seen: list[list[tuple[int, str]]] = [[], []]
    stop = threading.Event()

    def score(out: list[tuple[int, str]]) -> None:
        with httpx.Client(headers=AUTH, timeout=30) as http:
            while not stop.is_set():
                response = http.post(f"{server.url}/api/v1/predict", json=ROW)
                version = response.json()["model"]["version"] if response.is_success else ""
                out.append((response.status_code, version))

    with LiveServer(app) as server:
        threads = [threading.Thread(target=score, args=(out,)) for out in seen]
        for thread in threads:
            thread.start()
        wait_for("50 answers before the swap", lambda: sum(map(len, seen)) >= 50, 60, 0.01)
        swap = httpx.post(
            f"{server.url}/api/v1/admin/reload",
            json={"uri": versions.uri(2)},
            headers=ADMIN,
            timeout=60,
        )
        served_after = sum(map(len, seen))
        wait_for(
            "50 answers after the swap", lambda: sum(map(len, seen)) >= served_after + 50, 60, 0.01
        )
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        metrics = httpx.get(f"{server.url}/metrics").text
    assert swap.status_code == 200, swap.text
    assert swap.json()["version"] == "2"
    for out in seen:
        assert {status for status, _ in out} == {200}
        versions_in_order = [v for _, v in out]
        first_new = versions_in_order.index("2")
        assert set(versions_in_order[:first_new]) == {"1"}
        assert set(versions_in_order[first_new:]) == {"2"}  # never back to the old one
    info = [line for line in metrics.splitlines() if line.startswith("inference_model_info{")]
    assert len(info) == 1
    assert 'model_version="2"' in info[0]


async def test_broken_version_is_refused_and_the_old_one_keeps_serving(
    versions: Versions,
) -> None:
    settings = make_settings(model_uri=versions.uri(1), mlflow_tracking_uri=versions.tracking_uri)
    async with running(settings) as svc:
        refused = await reload(svc, {"uri": versions.uri(3)})
        assert refused.status_code == 409
        error = refused.json()["error"]
        assert error["code"] == "conflict"
        assert "cannot load" in error["message"]
        assert error["details"][0]["ok"] is False
        scored = await svc.predict(ROW)
        assert scored.status_code == 200
        assert scored.json()["model"]["version"] == "1"
        info = await svc.info()
        assert info["model"]["version"] == "1"
        assert info["last_reload"]["ok"] is False
        assert (await svc.client.get("/readyz")).status_code == 200
        missing = await reload(svc, {"uri": versions.uri(99)})
        assert missing.status_code == 409
        assert (await svc.predict(ROW)).json()["model"]["version"] == "1"


async def test_admin_reload_needs_its_own_key(versions: Versions) -> None:
    settings = make_settings(model_uri=versions.uri(1), mlflow_tracking_uri=versions.tracking_uri)
    async with running(settings) as svc:
        assert (await svc.client.post("/api/v1/admin/reload")).status_code == 401
        wrong = await svc.client.post("/api/v1/admin/reload", headers={"X-Admin-Key": "x"})
        assert wrong.status_code == 403
        client_key = await svc.client.post("/api/v1/admin/reload", headers=AUTH)
        assert client_key.status_code == 401  # a client key is not an admin key
        same = await reload(svc)
        assert same.status_code == 200
        assert "already serving" in same.json()["message"]
    async with running(settings.model_copy(update={"admin_key_hash": ""})) as svc:
        disabled = await reload(svc)
        assert disabled.status_code == 403
        assert "disabled" in disabled.json()["error"]["message"]


async def test_admin_reload_body_errors_are_documented_ones(versions: Versions) -> None:
    """The key is checked before the body; a body that is not JSON, not UTF-8 or not valid
    (strictly: ``0`` is not ``false``) is a 415 / 422 like on the scoring routes (FastAPI's
    own parsing answered an undocumented 400 to bytes that are not UTF-8)."""
    settings = make_settings(model_uri=versions.uri(1), mlflow_tracking_uri=versions.tracking_uri)
    json_type = {"Content-Type": "application/json"}
    async with running(settings) as svc:
        post = svc.client.post
        no_key = await post("/api/v1/admin/reload", content=b"\xff\xfe", headers=json_type)
        assert no_key.status_code == 401
        not_utf8 = await post(
            "/api/v1/admin/reload", content=b"=g\xff\xfe{", headers={**ADMIN, **json_type}
        )
        assert not_utf8.status_code == 422, not_utf8.text
        assert not_utf8.json()["error"]["code"] == "invalid_input"
        assert not_utf8.json()["error"]["details"][0]["type"] == "json_invalid"
        unknown = await reload(svc, {"uri": versions.uri(2), "extra": 1})
        assert unknown.status_code == 422
        assert unknown.json()["error"]["details"][0]["loc"] == ["body", "extra"]
        for loose in ({"force": 0}, {"force": "true"}, {"uri": 2}):  # strict, like scoring
            assert (await reload(svc, loose)).status_code == 422, loose
        text = await post(
            "/api/v1/admin/reload", content=b"{}", headers={**ADMIN, "Content-Type": "text/plain"}
        )
        assert text.status_code == 415
        for empty in (b"", b"null", b"{}"):
            same = await post("/api/v1/admin/reload", content=empty, headers={**ADMIN, **json_type})
            assert same.status_code == 200, same.text
            assert "already serving" in same.json()["message"]
        assert (await svc.predict(ROW)).json()["model"]["version"] == "1"


async def test_contract_changes(
    versions: Versions,
    lending_club_model: TrainedModel,
    default_model: TrainedModel,
    tmp_path: Path,
) -> None:
    """A compatible contract change (a new level) swaps and the docs follow; an
    incompatible one is refused unless forced."""

    def add_level(contract: dict) -> None:
        contract["features"][0]["levels"].append("Maybe")
        contract["reference"]["student"]["levels"].append("Maybe")
        contract["reference"]["student"]["proportions"].insert(2, 0.0)

    widened = registered_copy(default_model, versions, tmp_path / "widened", add_level)
    lending = registered_copy(lending_club_model, versions, tmp_path / "lending")
    settings = make_settings(model_uri=versions.uri(1), mlflow_tracking_uri=versions.tracking_uri)
    async with running(settings) as svc:
        assert (await reload(svc, {"uri": widened})).status_code == 200
        spec = (await svc.client.get("/openapi.json")).json()
        assert spec["components"]["schemas"]["Applicant"]["properties"]["student"]["enum"] == [
            "No",
            "Yes",
            "Maybe",
        ]
        assert (await svc.predict({**ROW, "student": "Maybe"})).status_code == 200
        refused = await reload(svc, {"uri": lending})
        assert refused.status_code == 409
        assert "incompatible contract" in refused.json()["error"]["message"]
        assert (await svc.predict(ROW)).status_code == 200
        forced = await reload(svc, {"uri": lending, "force": True})
        assert forced.status_code == 200
        spec = (await svc.client.get("/openapi.json")).json()
        assert "int_rate" in spec["components"]["schemas"]["Applicant"]["properties"]
        assert (await svc.predict(ROW)).status_code == 422  # clients of the old contract break
        assert (await svc.info())["model"]["version"] == lending.rsplit("/", 1)[1]


async def test_reload_takes_registry_uris_of_the_served_model_only(
    versions: Versions, lending_club_model: TrainedModel, tmp_path: Path
) -> None:
    """Attack (issue 16): with the admin key, point the server at a local path (``/`` was
    searched recursively), at an artifact location it would fetch, or at another model."""
    client(lending_club_model.tracking_uri)
    folder = mlflow.artifacts.download_artifacts(
        artifact_uri=lending_club_model.uri, dst_path=str(tmp_path / "lending")
    )
    settings = make_settings(model_uri=versions.uri(1), mlflow_tracking_uri=versions.tracking_uri)
    async with running(settings) as svc:
        for uri in ("/", folder, "runs:/0123/model", "s3://bucket/model", "http://10.0.0.1/m"):
            refused = await reload(svc, {"uri": uri})
            assert refused.status_code == 422, (uri, refused.text)
        other = await reload(svc, {"uri": "models:/another-model/1"})
        assert other.status_code == 409
        assert "versions of" in other.json()["error"]["message"]
        assert (await svc.predict(ROW)).json()["model"]["version"] == "1"
        assert (await reload(svc, {"uri": versions.uri(2)})).status_code == 200


async def test_poll_follows_the_alias_and_skips_a_broken_target(versions: Versions) -> None:
    set_alias(versions.tracking_uri, NAME, "live", "1")
    settings = make_settings(
        model_uri=f"models:/{NAME}@live",
        reload_poll_seconds=0.2,
        mlflow_tracking_uri=versions.tracking_uri,
    )
    async with running(settings) as svc:
        assert (await svc.info())["model"]["version"] == "1"
        set_alias(versions.tracking_uri, NAME, "live", "2")

        async def on_v2() -> bool:
            return (await svc.info())["model"]["version"] == "2"

        await wait_for_async("the watcher to follow the alias to v2", on_v2, 20)
        set_alias(versions.tracking_uri, NAME, "live", "3")

        async def refused() -> bool:
            return (await svc.info())["last_reload"]["ok"] is False

        await wait_for_async("the watcher to refuse the broken v3", refused, 20)
        assert (await svc.predict(ROW)).json()["model"]["version"] == "2"
        assert svc.app.state.watcher._refused == (f"models:/{NAME}@live", "3")
    set_alias(versions.tracking_uri, NAME, "live", "1")


async def test_service_starts_unready_and_loads_when_the_model_appears(
    versions: Versions,
) -> None:
    settings = make_settings(
        model_uri=f"models:/{NAME}@later",
        load_retry_seconds=0.2,
        mlflow_tracking_uri=versions.tracking_uri,
    )
    async with running(settings) as svc:
        ready = await svc.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"]
        unavailable = await svc.predict(ROW)
        assert unavailable.status_code == 503
        assert unavailable.headers["retry-after"]
        assert (await svc.client.get("/metrics")).status_code == 200
        placeholder = (await svc.client.get("/openapi.json")).json()
        assert "no model" in placeholder["components"]["schemas"]["Applicant"]["description"]
        set_alias(versions.tracking_uri, NAME, "later", "2")

        async def ready_now() -> bool:
            return (await svc.client.get("/readyz")).status_code == 200

        await wait_for_async("readiness once the model exists", ready_now, 20)
        scored = await svc.predict(ROW)
        assert scored.status_code == 200
        assert scored.json()["model"]["version"] == "2"
        spec = (await svc.client.get("/openapi.json")).json()
        assert "balance" in spec["components"]["schemas"]["Applicant"]["properties"]
