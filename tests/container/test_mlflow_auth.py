"""The chart's MLflow, authentication on, inside the image the chart runs it from (the
trainer image: it must carry ``mlflow[auth]``): the rendered container command and
environment, the generated passwords in place of the Secret. Anonymous requests are
refused, the reader reads but cannot move ``champion``, the writer can."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.container.conftest import container_writable
from tests.container.docker import Container, Network, http_ok, image, wait_for
from tests.integration.deploy.chart import template_text

PREFIX = "cr-creditrisk"
API = "/api/2.0/mlflow"


def _named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _rendered() -> tuple[dict[str, Any], dict[str, str]]:
    docs = [d for d in yaml.safe_load_all(template_text()) if d]
    deployment = _named(docs, "Deployment", f"{PREFIX}-mlflow")
    secret = _named(docs, "Secret", f"{PREFIX}-mlflow-auth")
    values = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    return deployment["spec"]["template"]["spec"]["containers"][0], values


def _env(container: dict[str, Any], secret: dict[str, str]) -> dict[str, str]:
    """The container's env as the kubelet builds it (Secret refs, then $(VAR))."""
    env: dict[str, str] = {}
    for item in container.get("env") or []:
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            env[item["name"]] = secret[ref["key"]]
        else:
            env[item["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), item["value"]
            )
    return env


def test_the_charts_mlflow_runs_with_auth_in_its_image(
    network: Network, containers: list[Container], tmp_path: Path
) -> None:
    spec, secret = _rendered()
    env = _env(spec, secret)
    args = [re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], a) for a in spec["args"]]
    store = container_writable(tmp_path)
    mlflow = Container(
        image("trainer"),
        network,
        [*spec["command"][1:], *args],  # ["sh", "-c"]: the script, then mlflow's arguments
        env=env,
        volumes=[f"{store}:/mlflow"],
        publish=[5000],
        extra=["--entrypoint", spec["command"][0]],
    )
    containers.append(mlflow.start())
    base = mlflow.url(5000)
    wait_for("MLflow /health", lambda: http_ok(f"{base}/health"), 180, mlflow)

    def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return httpx.request(method, url, timeout=60, **kwargs)
        except httpx.HTTPError as exc:
            raise AssertionError(f"{method} {url}: {exc!r}\n{mlflow.logs()[-4000:]}") from exc

    model = env["MLFLOW_AUTH_MODEL"]
    reader = (env["MLFLOW_AUTH_READER_USERNAME"], env["MLFLOW_AUTH_READER_PASSWORD"])
    writer = (env["MLFLOW_AUTH_WRITER_USERNAME"], env["MLFLOW_AUTH_WRITER_PASSWORD"])
    get = f"{base}{API}/registered-models/get"
    assert call("GET", get, params={"name": model}).status_code == 401
    assert call("GET", get, params={"name": model}, auth=("x", "y")).status_code == 401
    found = call("GET", get, params={"name": model}, auth=reader)
    assert found.status_code == 200, found.text  # made by the bootstrap before the server

    created = call(
        "POST",
        f"{base}{API}/model-versions/create",
        json={"name": model, "source": "models:/nowhere/1"},
        auth=reader,
    )
    assert created.status_code == 403, created.text
    alias = {"name": model, "alias": "champion", "version": "1"}
    moved = call("POST", f"{base}{API}/registered-models/alias", json=alias, auth=reader)
    assert moved.status_code == 403, moved.text
    tagged = call(
        "POST",
        f"{base}{API}/registered-models/set-tag",
        json={"name": model, "key": "owner", "value": "credit-risk"},
        auth=writer,
    )
    assert tagged.status_code == 200, tagged.text
