"""Assertions shared by the rollout scenarios (final status, conditions, route, aliases)."""

from __future__ import annotations

from typing import Any, cast

from tests.e2e.harness.manifests import NAME
from tests.e2e.harness.routing import route_weights
from tests.e2e.harness.scenario import Scenario
from tests.e2e.harness.waits import wait_for

CANARY = f"{NAME}-canary"


def route_of(s: Scenario) -> dict[str, int]:
    """Service → weight on the HTTPRoute, read from the API now."""
    route = s.custom.get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", s.namespace, "httproutes", NAME
    )
    return route_weights(cast(dict[str, Any], route))


def model_uri_of(s: Scenario, deployment: str) -> str | None:
    d = s.deployment(deployment)
    if d is None:
        return None
    env = d["spec"]["template"]["spec"]["containers"][0].get("env") or []
    return next((e.get("value") for e in env if e["name"] == "MODEL_URI"), None)


def assert_promoted(s: Scenario) -> None:
    status = s.status()
    assert status["phase"] == "Succeeded", s.describe()
    promoted = s.condition("Promoted")
    assert promoted is not None
    assert promoted["status"] == "True", promoted
    assert status["stableVersion"] == s.models.candidate
    assert route_of(s) == {NAME: 100}, "all traffic back on the stable Service"
    assert model_uri_of(s, NAME) == s.models.candidate_uri
    assert s.models.champion() == s.models.candidate, "champion moved to the candidate"
    assert "Promoted" in s.event_reasons()


def assert_rolled_out_when_promoted(s: Scenario) -> None:
    """When the phase turned Succeeded, the stable Deployment had finished its rolling
    update: every active pod on the new template, as many ready as desired (what
    ``kubectl rollout status`` waits for) — not old pods standing in for unready new ones."""
    done = wait_for(
        lambda: s.recorder.first(lambda x: x.phase == "Succeeded"), 15, "a Succeeded sample"
    )
    desired, pods = done.replicas.get(NAME, 0), done.pods.get(NAME, 0)
    updated, ready = done.updated.get(NAME, 0), done.ready.get(NAME, 0)
    assert updated == pods >= desired, f"old pods left at promotion: {done}"
    assert ready >= desired, f"new pods not ready at promotion: {done}"


def assert_rolled_back(s: Scenario, reason: str) -> dict[str, Any]:
    """Failed with ``reason``; stable untouched, route on stable, alias untouched, the
    candidate version tagged with the reason. Returns the status."""
    status = s.status()
    assert status["phase"] == "Failed", s.describe()
    promoted = s.condition("Promoted")
    assert promoted is not None
    assert promoted["status"] == "False", promoted
    assert promoted["reason"] == reason, promoted
    assert route_of(s) == {NAME: 100}, "all traffic back on the stable Service"
    assert model_uri_of(s, NAME) == s.models.stable_uri, "stable still serves the champion"
    canary = s.deployment(CANARY)
    assert canary is None or not canary["spec"].get("replicas"), "canary scaled away"
    assert s.models.champion() == s.models.stable, "champion alias untouched"
    tags = (
        s.models.tags(s.models.candidate)
        if status.get("canaryVersion") == s.models.candidate
        else {}
    )
    if tags:
        assert any(reason in str(v) for v in tags.values()), tags
    reasons = s.event_reasons()
    assert reason in reasons, reasons
    assert "RolledBack" in reasons, reasons
    return status
