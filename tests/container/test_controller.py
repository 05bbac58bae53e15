"""The controller image reaches a real control plane (kube-apiserver built from the
Kubernetes Go modules) with a mounted kubeconfig of its least-privilege ServiceAccount,
and reconciles one ModelRollout: the candidate from an MLflow tracking server (the
trainer image's `mlflow server`, in a container) gets its canary Deployment and Service.

The controller container uses the host's network namespace: the control plane's
processes listen on the host's loopback only (their certificates name 127.0.0.1). It is
otherwise run as the chart runs it (read-only, UID 10001, no capabilities).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest

from controller.kube import DEPLOYMENTS, ROLLOUTS, SERVICES, Kube
from services.core.registry import client as mlflow_client
from tests.container.conftest import world_readable
from tests.container.docker import Container, Network, http_ok, image, wait_for
from tests.integration.controller.cluster import NS, FakeKubelet, rollout, stable_world
from tests.support.controlplane import ControlPlane, build_if_missing
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
SA = "modelrollout-controller"
MODEL = "container-rollout"
SERVER_ARGS = (
    "server --host 0.0.0.0 --port 5000 --workers 1 --backend-store-uri sqlite:////tmp/mlflow.db "
    "--serve-artifacts --artifacts-destination /tmp/artifacts --allowed-hosts 127.0.0.1:*"
)


@pytest.fixture(scope="module")
def cp() -> Iterator[ControlPlane]:
    build_if_missing()
    plane = ControlPlane()
    try:
        plane.start()
        plane.apply(plane.crd_dir("gateway-api"), ROOT / "k8s" / "crd" / "modelrollouts.yaml")
        plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        plane.apply(ROOT / "k8s" / "rbac")
        yield plane
    finally:
        plane.stop()


def mlflow_server(network: Network, containers: list[Container]) -> str:
    server = Container(
        image("trainer"),
        network,
        SERVER_ARGS.split(),
        publish=[5000],
        extra=["--entrypoint", "mlflow"],
    )
    containers.append(server.start())
    url = server.url(5000)
    wait_for("MLflow /health", lambda: http_ok(f"{url}/health"), 180, server)
    return url


def register(tracking_uri: str, model_folder: Path) -> None:
    """Versions 1 and 2 of MODEL from the model folder, logged through the server."""
    registry = mlflow_client(tracking_uri)
    experiment = registry.create_experiment("container-controller")
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_artifacts(str(model_folder), "model")
    registry.create_registered_model(MODEL)
    for _ in range(2):
        registry.create_model_version(MODEL, f"runs:/{run.info.run_id}/model", run.info.run_id)
    registry.set_registered_model_alias(MODEL, "champion", "1")


def test_controller_reconciles_a_modelrollout(
    cp: ControlPlane,
    network: Network,
    containers: list[Container],
    model_folder: Path,
    tmp_path: Path,
) -> None:
    tracking_uri = mlflow_server(network, containers)
    register(tracking_uri, model_folder)
    admin = Kube(cp.client(), "tests")
    for obj in stable_world("ctr", f"models:/{MODEL}/1"):
        admin.apply(obj)

    kube_dir = tmp_path / "kube"
    kube_dir.mkdir()
    shutil.copy(cp.serviceaccount_kubeconfig(NS, SA, create=False), kube_dir / "config")
    world_readable(kube_dir)
    metrics_port, liveness_port = free_port(), free_port()
    controller = Container(
        image("controller"),
        network,
        env={
            "CONTROLLER_KUBECONFIG": "/kube/config",
            "CONTROLLER_NAMESPACES": NS,
            "CONTROLLER_TICK_SECONDS": "0.5",
            "CONTROLLER_METRICS_PORT": str(metrics_port),
            "CONTROLLER_LIVENESS_PORT": str(liveness_port),
            "MLFLOW_TRACKING_URI": tracking_uri,
        },
        volumes=[f"{kube_dir}:/kube:ro"],
        extra=["--network", "host"],
    )
    containers.append(controller.start())
    with FakeKubelet(admin):
        admin.apply(rollout("mro-ctr", "ctr", f"models:/{MODEL}/2"))

        def progressing() -> dict[str, object] | None:
            found = admin.get(ROLLOUTS, NS, "mro-ctr") or {}
            status = found.get("status") or {}
            return status if status.get("phase") == "Progressing" else None

        status = wait_for("ModelRollout Progressing", progressing, 180, controller)
    assert status["stableVersion"] == "1", json.dumps(status)
    canary = admin.get(DEPLOYMENTS, NS, "ctr-canary")
    assert canary is not None
    assert canary["metadata"]["ownerReferences"][0]["kind"] == "ModelRollout"
    env = {
        e["name"]: e.get("value")
        for e in canary["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["MODEL_URI"] == f"models:/{MODEL}/2"
    assert admin.get(SERVICES, NS, "ctr-canary") is not None
    assert http_ok(f"http://127.0.0.1:{liveness_port}/healthz")
    assert http_ok(f"http://127.0.0.1:{metrics_port}/metrics")
