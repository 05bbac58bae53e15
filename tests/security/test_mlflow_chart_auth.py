"""Attack, on the chart as rendered: from a compromised inference or batch pod, move
``champion`` (replacing the production model), add a version, or claim the model's name
before the trainer registers it; read the registry without credentials.

The bundled MLflow container of the rendered chart is run for real: its own command,
arguments and environment (the Secret's passwords resolved as the kubelet would) on a
free local port, so the auth config it writes, the identity bootstrap
(``services.trainer.mlflow_auth``) and ``mlflow server --app-name basic-auth`` are the
chart's. Each workload then talks to it with the credentials the chart gives its pods. On
the old chart MLflow had no authentication and every check below was allowed."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mlflow.exceptions import MlflowException

from controller.mlflow_adapter import ModelRegistry, RegistryError
from services.core.model_store import load_model
from services.core.registry import client
from tests.integration.deploy.chart import template_text
from tests.support.models import train_quick
from tests.support.processes import free_port
from tests.system.inference.servers import Process, clean_env

pytestmark = pytest.mark.integration

Manifest = dict[str, Any]
PREFIX = "cr-creditrisk"
REPO = Path(__file__).resolve().parents[2]
MODEL = "credit-default"  # the chart's model.name


class Chart:
    """The default chart rendered, with its Secrets' values for the kubelet's part."""

    def __init__(self) -> None:
        self.docs: list[Manifest] = [d for d in yaml.safe_load_all(template_text()) if d]
        self.secrets = {
            d["metadata"]["name"]: {k: base64.b64decode(v).decode() for k, v in d["data"].items()}
            for d in self.docs
            if d["kind"] == "Secret"
        }

    def container(self, kind: str, name: str) -> Manifest:
        (d,) = [
            d
            for d in self.docs
            if d["kind"] == kind and d["metadata"]["name"] == f"{PREFIX}-{name}"
        ]
        return dict(d["spec"]["template"]["spec"]["containers"][0])

    def env(self, kind: str, name: str) -> dict[str, str]:
        """The container's env as the kubelet builds it: Secret refs, then $(VAR)."""
        env: dict[str, str] = {}
        for item in self.container(kind, name).get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                env[item["name"]] = self.secrets[ref["name"]][ref["key"]]
            elif "value" in item:
                env[item["name"]] = re.sub(
                    r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), item["value"]
                )
        return env

    def identity(self, kind: str, name: str) -> tuple[str, str]:
        env = self.env(kind, name)
        return env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"]


@pytest.fixture(scope="module")
def chart() -> Chart:
    return Chart()


@dataclass(frozen=True)
class Running:
    url: str
    env: dict[str, str]  # the MLflow container's env, its paths made local


@pytest.fixture(scope="module")
def running(chart: Chart, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    work = tmp_path_factory.mktemp("chart-mlflow")
    port = free_port()
    c = chart.container("Deployment", "mlflow")

    def local(value: str) -> str:
        return value.replace("/mlflow/", f"{work}/").replace("/tmp/", f"{work}/")

    argv = [local(a) for a in [*c["command"], *c["args"]]]
    for flag, value in (("--host", "127.0.0.1"), ("--port", str(port)), ("--workers", "1")):
        argv[argv.index(flag) + 1] = value
    env = {k: local(v) for k, v in chart.env("Deployment", "mlflow").items()}
    argv = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in argv]
    server = Process("chart-mlflow", work, port)
    server.spawn(argv, clean_env(**env, PYTHONPATH=str(REPO)), timeout=120)
    try:
        url = f"http://127.0.0.1:{port}"
        while httpx.get(f"{url}/health", timeout=10).status_code != 200:
            assert server.alive(), server.tail()
        yield Running(url, env)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def mlflow_url(running: Running) -> str:
    return running.url


def as_identity(monkeypatch: pytest.MonkeyPatch, identity: tuple[str, str]) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", identity[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", identity[1])


def test_each_workload_gets_only_its_own_identity(chart: Chart) -> None:
    expected = {
        ("Deployment", "inference"): "reader-password",
        ("Deployment", "batch-api"): "reader-password",
        ("Deployment", "batch-worker"): "reader-password",
        ("Job", "trainer"): "writer-password",
        ("Deployment", "controller"): "writer-password",
    }
    for (kind, name), key in expected.items():
        refs = [
            e["valueFrom"]["secretKeyRef"]
            for e in chart.container(kind, name)["env"]
            if e.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == f"{PREFIX}-mlflow-auth"
        ]
        assert [r["key"] for r in refs] == [key], (kind, name)
    for doc in chart.docs:  # passwords only in the Secret
        if doc["kind"] != "Secret":
            text = yaml.safe_dump(doc)
            for key, value in chart.secrets[f"{PREFIX}-mlflow-auth"].items():
                assert value not in text, (key, doc["kind"], doc["metadata"]["name"])


def test_the_model_name_is_the_writers_before_any_training(
    chart: Chart, mlflow_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        httpx.get(f"{mlflow_url}/api/2.0/mlflow/experiments/search?max_results=1").status_code
        == 401
    )
    as_identity(monkeypatch, chart.identity("Deployment", "inference"))
    with pytest.raises(MlflowException, match=r"RESOURCE_ALREADY_EXISTS|already exists"):
        client(mlflow_url).create_registered_model(MODEL)  # cannot claim it first
    as_identity(monkeypatch, ("creditrisk-reader", "guess-guess-guess"))
    with pytest.raises(MlflowException, match="401"):
        client(mlflow_url).get_registered_model(MODEL)


def test_trainer_and_controller_write_inference_and_batch_only_read(
    chart: Chart, mlflow_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_identity(monkeypatch, chart.identity("Job", "trainer"))
    trained = train_quick(mlflow_url, model_name=MODEL, experiment="credit-default")
    assert trained.summary.version == "1"
    run_id = client(mlflow_url).get_model_version(MODEL, "1").run_id
    second = client(mlflow_url).create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)

    for kind, name in (("Deployment", "inference"), ("Deployment", "batch-worker")):
        as_identity(monkeypatch, chart.identity(kind, name))
        assert load_model(f"models:/{MODEL}@champion", mlflow_url, nthread=1).version == "1"
        with pytest.raises(RegistryError, match="403"):
            ModelRegistry(mlflow_url).move_alias(MODEL, "champion", second.version)
        with pytest.raises(MlflowException, match="403"):
            client(mlflow_url).create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)

    as_identity(monkeypatch, chart.identity("Deployment", "controller"))
    registry = ModelRegistry(mlflow_url)
    registry.move_alias(MODEL, "champion", second.version)
    assert registry.resolve(f"models:/{MODEL}@champion") == (MODEL, second.version)


def test_the_bootstrap_is_idempotent_and_rotates_passwords(chart: Chart, running: Running) -> None:
    """What the container runs at every start, run again with the reader's password
    rotated in the Secret: nothing fails, the old password is refused, the new one works."""
    old = chart.identity("Deployment", "inference")
    env = {**running.env, "MLFLOW_AUTH_READER_PASSWORD": "rotated-reader-password"}
    argv = [sys.executable, "-m", "services.trainer.mlflow_auth"]
    argv += ["--backend-store-uri", env["MLFLOW_BACKEND_STORE_URI"], "--model", MODEL]
    argv += ["--experiment", env["MLFLOW_AUTH_EXPERIMENT"]]
    done = subprocess.run(
        argv,
        env=clean_env(**env, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    model = f"{running.url}/api/2.0/mlflow/registered-models/get?name={MODEL}"
    assert httpx.get(model, auth=old, timeout=30).status_code == 401
    rotated = (old[0], "rotated-reader-password")
    assert httpx.get(model, auth=rotated, timeout=30).status_code == 200
