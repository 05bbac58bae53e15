"""Attack: reach the internal endpoints of the services through the public gateway.

The chart's HTTPRoutes and Ingress are evaluated with the Gateway API / Ingress matching
rules (Exact, PathPrefix by path element, method) for every request an attacker on the
Internet would try. Only scoring, model info and the batch job API may match; probes,
metrics, the OpenAPI docs and the admin API must not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.deploy.chart import ALL_FEATURES, template_text

pytestmark = pytest.mark.integration

Manifest = dict[str, Any]
ANY_PATH = {"path": {"type": "PathPrefix", "value": "/"}}
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
INTERNAL = (
    "/",
    "/metrics",
    "/healthz",
    "/readyz",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/api/v1/admin/reload",
    "/api/v1/admin",
    "/api/v1/predict/../admin/reload",
    "/api/v1/model",
    "/api/v1/decisions/order-1234",  # the decision record: applicants' inputs, admin key
    "/api/v1/decisions",
)
PUBLIC = (
    ("POST", "/api/v1/predict", "inference"),
    ("POST", "/api/v1/predict/bulk", "inference"),
    ("GET", "/api/v1/model/info", "inference"),
)
BATCH = (
    ("POST", "/api/v1/jobs", "batch-api"),
    ("GET", "/api/v1/jobs/abc/results", "batch-api"),
    ("POST", "/api/v1/predict/batch", "batch-api"),
)


def _prefix_match(prefix: str, path: str) -> bool:
    """Gateway API / Ingress ``Prefix``: element-wise, ``/`` matches everything."""
    want = [p for p in prefix.split("/") if p]
    got = [p for p in path.split("/") if p]
    return got[: len(want)] == want


def _path_match(kind: str, value: str, path: str) -> bool:
    if kind == "Exact":
        return path == value
    if kind in ("PathPrefix", "Prefix", "ImplementationSpecific"):
        return _prefix_match(value, path)
    raise AssertionError(f"unexpected path match type {kind}")


def routed(docs: list[Manifest], method: str, path: str) -> set[str]:
    """Backend Services a request would reach through any route or Ingress of the release."""
    found: set[str] = set()
    for doc in docs:
        if doc["kind"] == "HTTPRoute":
            for rule in doc["spec"].get("rules", []):
                for match in rule.get("matches") or [ANY_PATH]:
                    p = match.get("path", ANY_PATH["path"])
                    if match.get("method", method) != method:
                        continue
                    if _path_match(p.get("type", "PathPrefix"), p.get("value", "/"), path):
                        found |= {ref["name"] for ref in rule.get("backendRefs", [])}
        elif doc["kind"] == "Ingress":
            for rule in doc["spec"].get("rules", []):
                for entry in rule.get("http", {}).get("paths", []):
                    if _path_match(entry["pathType"], entry["path"], path):
                        found.add(entry["backend"]["service"]["name"])
    return found


def _render(*extra: str, values: Path | None = None) -> list[Manifest]:
    text = template_text(*([values] if values else []), extra=extra)
    return [d for d in yaml.safe_load_all(text) if d]


CASES = {
    "httpRoute-default": lambda: _render(),
    "httpRoute-all-features": lambda: _render(values=ALL_FEATURES),
    "ingress": lambda: _render("--set", "exposure.type=ingress"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_internal_endpoints_are_not_routed(case: str) -> None:
    docs = CASES[case]()
    assert [d for d in docs if d["kind"] in ("HTTPRoute", "Ingress")], "nothing exposed"
    leaks = [
        (method, path, sorted(routed(docs, method, path)))
        for path in INTERNAL
        for method in METHODS
        if routed(docs, method, path)
    ]
    assert leaks == [], f"internal endpoints reachable through the gateway: {leaks}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_scoring_and_batch_stay_routed(case: str) -> None:
    """The positive half: the public operations still reach their Service."""
    docs = CASES[case]()
    for method, path, component in (*PUBLIC, *BATCH):
        assert routed(docs, method, path) == {f"cr-creditrisk-{component}"}, (method, path)


def test_httproute_refuses_other_methods_on_scoring() -> None:
    docs = _render()
    assert routed(docs, "GET", "/api/v1/predict") == set()
    assert routed(docs, "DELETE", "/api/v1/model/info") == set()
