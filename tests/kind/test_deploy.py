"""helm install + helm test on real kubelets; the first champion is served through the
gateway."""

from __future__ import annotations

import httpx

from tests.kind.cluster import Cluster, port_forward

GATEWAY_NS = "traefik"


def api_key(cluster: Cluster) -> str:
    import base64

    encoded = cluster.kubectl(
        "get", "secret", cluster.name_of("api-key"), "-o", "jsonpath={.data.api-key}"
    )
    return base64.b64decode(encoded).decode()


def test_helm_test_passes(cluster: Cluster) -> None:
    done = cluster.helm("test", cluster.release, "--timeout", "5m", "--logs", timeout=420)
    assert done.returncode == 0, done.stdout + done.stderr


def test_trainer_job_completed(cluster: Cluster) -> None:
    job = cluster.json("get", "job", cluster.name_of("trainer"))
    assert job["status"].get("succeeded", 0) >= 1, job["status"]


def test_champion_served_through_the_gateway(cluster: Cluster) -> None:
    key = api_key(cluster)
    with port_forward(cluster, GATEWAY_NS, "svc/traefik", 80) as url:
        info = httpx.get(f"{url}/api/v1/model/info", headers={"X-API-Key": key}, timeout=10)
        assert info.status_code == 200, info.text
        assert int(info.json()["model"]["version"]) >= 1
        answer = httpx.post(
            f"{url}/api/v1/predict",
            headers={"X-API-Key": key},
            json={"student": "No", "balance": 1200.0, "income": 30000.0},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        unauthenticated = httpx.get(f"{url}/api/v1/model/info", timeout=10)
        assert unauthenticated.status_code == 401
