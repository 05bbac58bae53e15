"""The chart with the kind values (scripts/kind/values-kind*.yaml), rendered by the real
helm binary: what the kind scenarios rely on."""

from __future__ import annotations

import pytest
import yaml

from tests.integration.deploy.chart import REPO, by_kind, template_text

pytestmark = pytest.mark.integration

KIND = REPO / "scripts" / "kind"


def rendered(*names: str) -> list[dict]:  # type: ignore[type-arg]
    text = template_text(*(KIND / name for name in names))
    return [doc for doc in yaml.safe_load_all(text) if doc]


@pytest.mark.parametrize(
    "values",
    [("values-kind.yaml",), ("values-kind.yaml", "values-kind-offline.yaml")],
    ids=["online", "offline"],
)
def test_apis_admit_only_the_gateway_the_release_and_prometheus(values: tuple[str, ...]) -> None:
    """A pod without the allowed labels reaches neither API (tests/kind/test_networkpolicy.py
    checks it on the cluster); the gateway's data plane (Traefik offline, Envoy online) does."""
    policies = {
        p["metadata"]["name"]: p for p in by_kind(tuple(rendered(*values)), "NetworkPolicy")
    }
    for component in ("inference", "batch-api"):
        rules = policies[f"cr-creditrisk-{component}"]["spec"]["ingress"]
        assert rules
        for rule in rules:
            peers = rule.get("from")
            assert peers, f"{component}: a rule without 'from' admits every pod"
            namespaces = {
                p["namespaceSelector"].get("matchLabels", {}).get("kubernetes.io/metadata.name")
                for p in peers
                if "namespaceSelector" in p and "podSelector" not in p
            }
            assert {"traefik", "envoy-gateway-system"} <= namespaces
            assert any(
                "podSelector" in p and "namespaceSelector" not in p for p in peers
            )  # the release
            prometheus = [p for p in peers if "namespaceSelector" in p and "podSelector" in p]
            assert prometheus[0]["podSelector"]["matchLabels"] == {
                "app.kubernetes.io/name": "prometheus"
            }


def test_offline_values_pin_the_profile_parts() -> None:
    docs = rendered("values-kind.yaml", "values-kind-offline.yaml")
    gateways = by_kind(tuple(docs), "Gateway")
    assert gateways[0]["spec"]["gatewayClassName"] == "traefik"
    assert not by_kind(tuple(docs), "ServiceMonitor")
    assert not by_kind(tuple(docs), "PrometheusRule")


def test_e2e_traffic_stays_under_the_inference_rate_limit() -> None:
    """Found on kind: e2e.sh sent 20 req/s with one API key against the chart's 600/minute,
    and 3,469 of 10,953 requests were 429."""
    import re

    script = (KIND / "e2e.sh").read_text()
    rps = float(re.search(r'--rps "\$\{E2E_RPS:-([0-9.]+)\}"', script).group(1))  # type: ignore[union-attr]
    chart = yaml.safe_load((REPO / "helm" / "creditrisk" / "values.yaml").read_text())
    kind_values = yaml.safe_load((KIND / "values-kind.yaml").read_text())
    limit = kind_values.get("inference", {}).get("rateLimit", chart["inference"]["rateLimit"])
    count, _, unit = str(limit).partition("/")
    per_second = float(count) / {"second": 1, "minute": 60, "hour": 3600}[unit]
    assert rps < per_second, f"e2e traffic {rps}/s vs rate limit {limit}"


def test_hpa_load_stays_under_the_inference_rate_limit() -> None:
    """The chaos scenario's load (workers x rate, one API key) would be answered 429 under
    the chart's 600/minute: the kind values raise the limit above it."""
    from tests.kind.test_rollout import LOAD_RPS, LOAD_WORKERS

    chart = yaml.safe_load((REPO / "helm" / "creditrisk" / "values.yaml").read_text())
    kind_values = yaml.safe_load((KIND / "values-kind.yaml").read_text())
    limit = kind_values.get("inference", {}).get("rateLimit", chart["inference"]["rateLimit"])
    count, _, unit = str(limit).partition("/")
    per_second = float(count) / {"second": 1, "minute": 60, "hour": 3600}[unit]
    assert per_second > LOAD_WORKERS * LOAD_RPS, f"load {LOAD_WORKERS}x{LOAD_RPS}/s vs {limit}"


# CPU the offline kind node's own pods request (kube-apiserver 250m, controller-manager
# 200m, scheduler, etcd, two CoreDNS 100m each, Prometheus 110m, Traefik and metrics-server
# 50m each, kube-router 20m), read from the cluster of make test-kind
NODE_OVERHEAD_MILLICPU = 1080
NODE_MILLICPU = 2000


def millicpu(value: str) -> int:
    return int(value[:-1]) if value.endswith("m") else int(float(value) * 1000)


def test_offline_release_fits_one_node_at_hpa_max_with_canary_and_surge() -> None:
    """Found on kind: at the HPA maximum, with a canary and a rolling-update surge pod, the
    release's requests did not fit the one 2-CPU node (a Pending surge pod stalls a
    promotion). Counted here: every Deployment at its replicas, the inference one at its
    HPA maximum, plus the canary at the rollout's maximum (2) and one surge pod."""
    import math

    docs = rendered("values-kind.yaml", "values-kind-offline.yaml")
    hpas = {
        h["spec"]["scaleTargetRef"]["name"]: h
        for h in by_kind(tuple(docs), "HorizontalPodAutoscaler")
    }
    total = NODE_OVERHEAD_MILLICPU
    for deployment in by_kind(tuple(docs), "Deployment"):
        name = deployment["metadata"]["name"]
        pod = sum(
            millicpu(c.get("resources", {}).get("requests", {}).get("cpu", "0"))
            for c in deployment["spec"]["template"]["spec"]["containers"]
        )
        if name in hpas:
            replicas = int(hpas[name]["spec"]["maxReplicas"])
        else:
            replicas = int(deployment["spec"].get("replicas", 1))
        total += pod * replicas
        if name.endswith("-inference"):
            surge = math.ceil(replicas * 0.25)
            total += pod * (2 + surge)  # canary at the rollout's maxReplicas, surge pods
    assert total <= NODE_MILLICPU, f"{total}m requested on a {NODE_MILLICPU}m node"


def test_inference_pods_keep_serving_while_their_endpoint_is_dropped() -> None:
    """Found on kind: during a promotion's rolling update 17 requests through Traefik failed
    (502/503/timeouts) on stable pods that had got SIGTERM while the gateway still routed to
    them. A preStop sleep keeps a terminating pod serving until its endpoint is gone."""
    docs = rendered("values-kind.yaml", "values-kind-offline.yaml")
    (deployment,) = [
        d
        for d in by_kind(tuple(docs), "Deployment")
        if d["metadata"]["name"].endswith("-inference")
    ]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    seconds = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert seconds >= 3
    assert pod["terminationGracePeriodSeconds"] > seconds + 10
