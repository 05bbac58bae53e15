"""The inference image, run as the chart runs it: predictions equal in-process ones,
/readyz and /metrics as documented, and SIGTERM drains in-flight requests."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.container.docker import Container, Network, http_ok, image, wait_for
from tests.integration.inference.harness import applicants, make_settings, parse_metrics, running

MODEL_MOUNT = "/models/default"


def start_inference(
    network: Network, containers: list[Container], model: Path | None, **env: str
) -> Container:
    volumes = [f"{model}:{MODEL_MOUNT}:ro"] if model else []
    container = Container(
        image("inference"),
        network,
        env={"MODEL_URI": MODEL_MOUNT, "INFERENCE_RATE_LIMIT": "", **env},
        volumes=volumes,
        publish=[8080],
    )
    containers.append(container.start())
    return container


def ready(container: Container, timeout: float = 120) -> str:
    url = container.url()
    wait_for("inference /readyz 200", lambda: http_ok(f"{url}/readyz"), timeout, container)
    return url


async def in_process(model: Path, rows: list[dict[str, object]]) -> list[float]:
    """The same request to the app in this process (httpx over ASGI, lifespan run)."""
    async with running(make_settings(model_uri=str(model))) as service:
        response = await service.bulk(rows)
    assert response.status_code == 200, response.text
    return [p["probability"] for p in response.json()["predictions"]]


async def test_probabilities_equal_in_process_predictions(
    network: Network, containers: list[Container], model_folder: Path
) -> None:
    rows = applicants("default", 100, seed=13)
    url = ready(start_inference(network, containers, model_folder))
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        response = await http.post("/api/v1/predict/bulk", json={"applicants": rows})
    assert response.status_code == 200, response.text
    got = [p["probability"] for p in response.json()["predictions"]]
    assert len(got) == 100
    assert got == pytest.approx(await in_process(model_folder, rows), rel=0, abs=1e-12)


def test_readyz_metrics_and_hardening(
    network: Network, containers: list[Container], model_folder: Path
) -> None:
    missing = start_inference(network, containers, None, MODEL_URI="/models/none")
    url = missing.url()
    wait_for("/healthz 200", lambda: http_ok(f"{url}/healthz"), 120, missing)
    not_ready = httpx.get(f"{url}/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json()["status"] == "not_ready"
    assert "/models/none" in not_ready.json()["reason"]

    serving = start_inference(network, containers, model_folder)
    url = ready(serving)
    assert httpx.get(f"{url}/readyz").json()["status"] == "ready"
    httpx.post(f"{url}/api/v1/predict", json=applicants("default", 1)[0]).raise_for_status()
    samples = parse_metrics(httpx.get(f"{url}/metrics").text)
    info = [labels for name, labels, value in samples if name == "inference_model_info" and value]
    assert [labels["uri"] for labels in info] == [MODEL_MOUNT]
    scored = sum(v for name, _, v in samples if name == "inference_predictions_total")
    assert scored == 1
    answered = [(n, labels) for n, labels, v in samples if n == "http_requests_total" and v]
    assert any(labels.get("status") == "200" for _, labels in answered), answered
    # the process inside is UID 10001 with no capabilities, on a read-only root
    status = serving.exec("cat", "/proc/1/status")
    uid = next(line.split()[1:3] for line in status.splitlines() if line.startswith("Uid:"))
    assert uid == ["10001", "10001"]
    assert "CapEff:\t0000000000000000" in status
    denied = serving.exec("sh", "-c", "touch /app/x 2>&1 || true")
    assert "Read-only file system" in denied


def test_sigterm_drains_in_flight_requests(
    network: Network, containers: list[Container], model_folder: Path
) -> None:
    """Light load (4 clients, a new connection per request) while `docker stop` runs: every
    request the server took is answered 200, and the process exits 0 (graceful). Once the
    listener closes, a new connection is refused — or, when it was still waiting in the
    kernel's accept queue at that instant, closed without an answer: the app never saw it,
    and in a cluster the Service stops sending new connections to a terminating pod
    before that point. The clients talk to the container's own address, as a Service
    endpoint would: through the published port, docker-proxy would turn "refused" into
    "accepted, then closed" for every late connection."""
    container = start_inference(network, containers, model_folder)
    ready(container)
    url = f"http://{container.ip()}:8080"
    rows = applicants("default", 500, seed=1)
    answered: list[int] = []
    failures: list[str] = []
    refused: list[float] = []
    stop_sent = threading.Event()

    def client() -> None:
        while True:
            try:
                with httpx.Client(timeout=30) as http:
                    response = http.post(f"{url}/api/v1/predict/bulk", json={"applicants": rows})
                answered.append(response.status_code)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if stop_sent.is_set():  # refused, or dropped unseen from the accept queue
                    refused.append(time.monotonic())
                    return
                failures.append(f"before stop: {type(exc).__name__}: {exc}")
                return
            except httpx.HTTPError as exc:
                failures.append(f"{type(exc).__name__}: {exc}")
                return

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    wait_for("some answers", lambda: len(answered) >= 20 or None, 60, container)
    stop_sent.set()
    container.stop(timeout=30)
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    assert len(answered) >= 20
    assert set(answered) == {200}
    assert len(refused) == 4
    state = container.state()
    assert state["ExitCode"] == 0, container.logs()[-3000:]
    assert state["OOMKilled"] is False
