"""`docker compose up` of compose.yaml, as its header tells a user without a registry to run
it: Redis and Prometheus from the images built here from Debian packages, Grafana left out
(no Debian package, no registry; its dashboard is checked statically by the chart tests).

The stack comes up healthy, the trainer registers the first champion in MLflow, inference
answers a prediction through its published port, MLflow answers, Prometheus scrapes
inference and has the alert rules loaded, and `down -v` leaves no container, network or
volume of the project behind. Compose is the binary `make compose` keeps in .cache/compose
(scripts/docker/compose.sh), or COMPOSE="docker compose"."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.container.docker import IMAGE_REPO, IMAGE_TAG, docker, wait_for
from tests.integration.inference.harness import applicants
from tests.support.processes import free_port

REPO = Path(__file__).resolve().parents[2]
CACHED = REPO / ".cache" / "compose" / "bin" / "docker-compose"
SERVICES = ["redis", "mlflow", "inference", "batch-api", "batch-worker", "prometheus"]
RULES = sum(
    len(group["rules"])
    for group in yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yml").read_text())[
        "groups"
    ]
)


def compose_command() -> list[str]:
    if os.environ.get("COMPOSE"):
        return shlex.split(os.environ["COMPOSE"])
    assert CACHED.is_file(), "Compose not built: `make compose` (make test builds it)"
    return [str(CACHED)]


class Stack:
    def __init__(self) -> None:
        self.project = f"creditrisk-test-{uuid.uuid4().hex[:8]}"
        self.ports = {
            name: free_port() for name in ("INFERENCE", "BATCH", "MLFLOW", "PROMETHEUS", "GRAFANA")
        }
        self.env = {
            **os.environ,
            "REDIS_IMAGE": f"{IMAGE_REPO}/redis:{IMAGE_TAG}",
            "PROMETHEUS_IMAGE": f"{IMAGE_REPO}/prometheus:{IMAGE_TAG}",
            "IMAGE_TAG": IMAGE_TAG,
            **{f"{name}_HOST_PORT": str(port) for name, port in self.ports.items()},
        }

    def run(self, *args: str, timeout: float = 120) -> str:
        proc = subprocess.run(
            [*compose_command(), "--project-name", self.project, "--file",
             str(REPO / "compose.yaml"), *args],
            cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        assert proc.returncode == 0, f"compose {' '.join(args)}: {proc.stderr[-4000:]}"
        return proc.stdout

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def leftovers(self) -> dict[str, list[str]]:
        label = f"label=com.docker.compose.project={self.project}"
        return {
            kind: docker(*command, "--filter", label, "--quiet").split()
            for kind, command in {
                "containers": ("ps", "--all"),
                "networks": ("network", "ls"),
                "volumes": ("volume", "ls"),
            }.items()
        }


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    made = Stack()
    try:
        made.run("up", "--detach", "--wait", "--wait-timeout", "900", *SERVICES, timeout=1000)
        yield made
    except AssertionError:
        subprocess.run(
            [*compose_command(), "--project-name", made.project, "logs", "--tail", "80"],
            cwd=REPO, env=made.env, check=False, timeout=60,
        )  # fmt: skip
        raise
    finally:
        made.run("down", "--volumes", "--timeout", "30", timeout=300)


def test_services_are_up_and_healthy_and_the_trainer_succeeded(stack: Stack) -> None:
    listed = stack.run("ps", "--all", "--format", "json").splitlines()
    states = [json.loads(line) for line in listed]
    by_service = {state["Service"]: state for state in states}
    assert set(SERVICES) <= set(by_service), sorted(by_service)
    for name in SERVICES:
        assert by_service[name]["State"] == "running", by_service[name]
        if name not in ("prometheus",):  # every app container and Redis declare a healthcheck
            assert by_service[name]["Health"] == "healthy", by_service[name]
    trainer = by_service["trainer"]
    assert trainer["State"] == "exited"
    assert trainer["ExitCode"] == 0, trainer


def test_a_prediction_through_the_published_port(stack: Stack) -> None:
    url = stack.url("INFERENCE")
    assert httpx.get(f"{url}/readyz", timeout=10).json()["status"] == "ready"
    response = httpx.post(f"{url}/api/v1/predict", json=applicants("default", 1)[0], timeout=30)
    assert response.status_code == 200, response.text
    assert 0.0 <= response.json()["probability"] <= 1.0
    info = httpx.get(f"{url}/api/v1/model/info", timeout=10).json()
    assert "credit-default" in json.dumps(info)


def test_mlflow_answers_with_the_registered_champion(stack: Stack) -> None:
    url = stack.url("MLFLOW")
    assert httpx.get(f"{url}/health", timeout=10).status_code == 200
    got = httpx.get(
        f"{url}/api/2.0/mlflow/registered-models/alias",
        params={"name": "credit-default", "alias": "champion"},
        timeout=10,
    )
    assert got.status_code == 200, got.text
    assert got.json()["model_version"]["version"] == "1"


def test_prometheus_scrapes_inference_with_the_alert_rules_loaded(stack: Stack) -> None:
    url = stack.url("PROMETHEUS")

    def inference_up() -> bool | None:
        targets = httpx.get(f"{url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return True if health.get("inference") == "up" else None

    wait_for("Prometheus scraping inference", inference_up, 90)
    query = httpx.get(
        f"{url}/api/v1/query", params={"query": 'up{job="inference",namespace="compose"}'},
        timeout=10,
    ).json()  # fmt: skip
    assert [r["value"][1] for r in query["data"]["result"]] == ["1"], query
    groups = httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = [rule["name"] for group in groups for rule in group["rules"]]
    assert len(loaded) == RULES > 0, loaded


def test_down_removes_everything(stack: Stack) -> None:
    """Run last in this module: the fixture's own `down -v` then finds nothing to do."""
    assert any(stack.leftovers().values())
    stack.run("down", "--volumes", "--timeout", "30", timeout=300)
    assert stack.leftovers() == {"containers": [], "networks": [], "volumes": []}
