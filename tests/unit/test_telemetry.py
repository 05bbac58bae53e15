"""``services.core.telemetry`` is the one place route templates and metric names live.

Python users import it (the inference routes and metrics, fault injection, the access log,
the controller's PromQL); the files that cannot — the chart's alert rules, the Grafana
dashboard, the rendered Prometheus rules, the inference Deployment's probes — are checked
against it here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from controller.queries import Scope, builtin_queries
from services.core import telemetry as t
from services.inference.metrics import InferenceMetrics
from services.inference.routes import admin, health, model, predict

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
RULE_FILES = ("helm/creditrisk/files/alerts.yaml", "deploy/prometheus/alerts.yml")
DASHBOARD = "helm/creditrisk/files/dashboard.json"
INFERENCE_NAME = re.compile(r"\b((?:http|inference)_[a-z_]+)\b")
ROUTE_MATCHER = re.compile(r'route=~"([^"]*)"')


def dashboard_exprs() -> list[str]:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                found.append(value) if key == "expr" else walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads((ROOT / DASHBOARD).read_text()))
    return found


def sources() -> dict[str, str]:
    texts = {name: (ROOT / name).read_text() for name in RULE_FILES}
    texts[DASHBOARD] = "\n".join(dashboard_exprs())
    return texts


@pytest.mark.parametrize("name", [*RULE_FILES, DASHBOARD])
def test_alerts_and_dashboard_name_only_exported_metrics(name: str) -> None:
    used = set(INFERENCE_NAME.findall(sources()[name]))
    assert used, f"{name} queries no inference metric"
    assert used <= t.exposed_names(), used - t.exposed_names()


@pytest.mark.parametrize("name", [*RULE_FILES, DASHBOARD])
def test_alerts_and_dashboard_select_the_scoring_routes(name: str) -> None:
    matchers = set(ROUTE_MATCHER.findall(sources()[name]))
    assert matchers == {t.SCORING_ROUTE_REGEX}


def test_the_route_regex_matches_exactly_the_scoring_routes() -> None:
    regex = re.compile(t.SCORING_ROUTE_REGEX)  # PromQL anchors =~ at both ends
    others = {t.MODEL_INFO, t.ADMIN_RELOAD, *t.PROBE_PATHS}
    assert all(regex.fullmatch(route) for route in t.SCORING_ROUTES)
    assert not any(regex.fullmatch(route) for route in others)
    assert all(route.startswith(t.SCORING_PREFIX) for route in t.SCORING_ROUTES)


def test_the_inference_app_serves_the_routes_named_here() -> None:
    served = {
        route.path  # type: ignore[attr-defined]
        for router in (predict.router, model.router, admin.router, health.router)
        for route in router.routes
    }
    assert served == {*t.SCORING_ROUTES, t.MODEL_INFO, t.ADMIN_RELOAD, *t.PROBE_PATHS}


def test_the_inference_app_exports_the_metrics_named_here() -> None:
    metrics = InferenceMetrics()
    labels = ("m", "1", "stable")
    metrics.serve(labels, ["f"], "default", "models:/m/1")
    metrics.observe_request(labels, t.PREDICT, "POST", 200, 0.01)
    metrics.observe_score(labels, 1, 0.7)
    paired = metrics.paired((*labels, "1"), ["low", "high"], ["low", "high"])
    paired.observe_one(1, 0, "high", "low", 0.7, 0.4)  # the paired-scoring series
    metrics.baseline_status(labels, "models:/m/1", paired=True)
    exposed = {
        line.split("{", 1)[0].split(" ", 1)[0]
        for line in metrics.exposition().decode().splitlines()
        if line and not line.startswith("#")
    }
    assert exposed == t.exposed_names()


def test_the_controller_queries_only_exported_metrics_and_scoring_routes() -> None:
    queries = "\n".join(builtin_queries(Scope("m", "2", 60.0, min_drift_samples=200)).values())
    assert set(INFERENCE_NAME.findall(queries)) <= t.exposed_names()
    assert all(route in queries for route in t.SCORING_ROUTES)


def test_the_probes_in_the_chart_are_served() -> None:
    deployment = (ROOT / "helm/creditrisk/templates/inference/deployment.yaml").read_text()
    probes = set(re.findall(r"path: (/\S+)", deployment))
    assert probes
    assert probes <= t.PROBE_PATHS
