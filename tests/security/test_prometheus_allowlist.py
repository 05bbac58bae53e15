"""Attack: a ModelRollout author points the controller at an address of their choosing
(`spec.prometheus.address`: cloud metadata, an internal admin API) to make the controller
send requests there. The chart passes an allow-list; the spec validation refuses the rest."""

from __future__ import annotations

import json

import pytest
import yaml

from controller.reconcile import InvalidSpec, parse_spec
from controller.settings import ControllerSettings
from tests.integration.deploy.chart import template_text

pytestmark = pytest.mark.unit

BASE = {"targetRef": {"name": "cr-creditrisk-inference"}, "model": {"uri": "models:/m/2"}}
ALLOWED = ["http://prometheus.monitoring:9090"]


@pytest.mark.parametrize(
    "address",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://cr-creditrisk-mlflow:5000",
        "http://prometheus.monitoring:9091",
        "https://prometheus.monitoring.evil.example:9090",
    ],
)
def test_unlisted_prometheus_is_refused(address: str) -> None:
    with pytest.raises(InvalidSpec, match="not allowed"):
        parse_spec({**BASE, "prometheus": {"address": address}}, ALLOWED)


def test_listed_prometheus_is_accepted() -> None:
    spec = parse_spec(
        {**BASE, "prometheus": {"address": "http://prometheus.monitoring:9090/"}}, ALLOWED
    )
    assert spec.prometheus.address.startswith("http://prometheus.monitoring:9090")
    assert parse_spec(BASE, ALLOWED).prometheus.address == ALLOWED[0]  # the default


def test_chart_passes_the_allowlist_to_the_controller(monkeypatch: pytest.MonkeyPatch) -> None:
    docs = [d for d in yaml.safe_load_all(template_text()) if d]
    (controller,) = [
        d
        for d in docs
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "cr-creditrisk-controller"
    ]
    env = {
        e["name"]: e.get("value")
        for e in controller["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert json.loads(env["CONTROLLER_PROMETHEUS_ALLOWLIST"]) == ALLOWED
    monkeypatch.setenv("CONTROLLER_PROMETHEUS_ALLOWLIST", env["CONTROLLER_PROMETHEUS_ALLOWLIST"])
    assert ControllerSettings().prometheus_allowlist == ALLOWED
