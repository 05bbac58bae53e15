"""Attack: move the ``champion`` alias (and so replace the production model) from any pod of
the release, or read the registry anonymously.

On the old main MLflow ran without authentication: anyone who reached it could read every
model and artifact and move any alias. Now the MLflow server runs MLflow's own basic-auth
app (``mlflow server --app-name basic-auth``) with ``default_permission = READ``: a reader
identity (inference, batch) reads and loads versions but may not move an alias or create a
version; the writer identity (trainer, controller) may. Our services pass credentials the
standard way, ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD``.

A real ``mlflow server --app-name basic-auth`` (SQLite stores in a temp dir); the
identities are made through MLflow's auth REST API as the admin; the trainer registers a
real model as the writer, inference's loader and the controller's registry adapter act
as the reader and the writer."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from mlflow.exceptions import MlflowException

from controller.mlflow_adapter import ModelRegistry, RegistryError
from services.core.model_store import load_model
from services.core.registry import client
from tests.support.models import TrainedModel, train_quick
from tests.system.inference.servers import MlflowServer

pytestmark = pytest.mark.integration

ADMIN = ("admin", "admin-password-for-the-test")
READER = ("inference", "reader-password-for-the-test")
WRITER = ("trainer", "writer-password-for-the-test")
MODEL = "auth-model"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    work = tmp_path_factory.mktemp("mlflow-auth")
    config = work / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{work / 'auth.db'}\n"
        f"admin_username = {ADMIN[0]}\n"
        f"admin_password = {ADMIN[1]}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    env = {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "csrf-secret-of-the-test",
    }
    mlflow = MlflowServer(work, app_name="basic-auth", env=env).start()
    try:
        for username, password in (READER, WRITER):
            created = httpx.post(
                f"{mlflow.url}/api/2.0/mlflow/users/create",
                json={"username": username, "password": password},
                auth=ADMIN,
                timeout=30,
            )
            assert created.status_code == 200, created.text
        yield mlflow
    finally:
        mlflow.stop()


def as_identity(monkeypatch: pytest.MonkeyPatch, identity: tuple[str, str]) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", identity[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", identity[1])


@pytest.fixture(scope="module")
def registered(server: MlflowServer) -> Iterator[TrainedModel]:
    """The trainer, as the writer, trains and registers version 1 (``champion``)."""
    with pytest.MonkeyPatch.context() as patch:
        as_identity(patch, WRITER)
        yield train_quick(server.url, model_name=MODEL, experiment="auth-test")


def test_anonymous_and_wrong_credentials_are_refused(
    server: MlflowServer, registered: TrainedModel
) -> None:
    search = f"{server.url}/api/2.0/mlflow/registered-models/search"
    assert httpx.get(search, timeout=30).status_code == 401
    assert httpx.get(search, auth=(READER[0], "guess"), timeout=30).status_code == 401
    alias = {"name": MODEL, "alias": "champion", "version": "1"}
    moved = httpx.post(f"{server.url}/api/2.0/mlflow/registered-models/alias", json=alias)
    assert moved.status_code == 401
    users = f"{server.url}/api/2.0/mlflow/users/create"
    made = httpx.post(users, json={"username": "mallory", "password": "x" * 12}, auth=READER)
    assert made.status_code in (401, 403)  # only the admin manages identities


def test_the_reader_loads_but_cannot_move_champion_or_add_versions(
    server: MlflowServer, registered: TrainedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_identity(monkeypatch, READER)
    loaded = load_model(f"models:/{MODEL}@champion", server.url, nthread=1)
    assert loaded.version == "1"
    registry = ModelRegistry(server.url)
    assert registry.resolve(f"models:/{MODEL}@champion") == (MODEL, "1")

    with pytest.raises(RegistryError, match="403"):
        registry.move_alias(MODEL, "champion", "1")
    run_id = client(server.url).get_model_version(MODEL, "1").run_id
    with pytest.raises(MlflowException, match="403"):
        client(server.url).create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)
    with pytest.raises(MlflowException, match="403"):
        client(server.url).delete_registered_model_alias(MODEL, "champion")


def test_the_writer_registers_versions_and_moves_champion(
    server: MlflowServer, registered: TrainedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_identity(monkeypatch, WRITER)
    mlflow_client = client(server.url)
    run_id = mlflow_client.get_model_version(MODEL, "1").run_id
    created = mlflow_client.create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)
    registry = ModelRegistry(server.url)
    registry.move_alias(MODEL, "champion", created.version)
    assert registry.resolve(f"models:/{MODEL}@champion") == (MODEL, created.version)
    registry.tag(MODEL, created.version, {"rollout.outcome": "promoted"})
    registry.move_alias(MODEL, "champion", "1")  # back, for the other tests
