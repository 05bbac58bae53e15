"""Pure builders of the canary workload (Deployment, Service, HPA) and of the patches that
promote the stable Deployment and hold its HPA floor."""

from __future__ import annotations

import copy

from controller import GROUP
from controller.builders.meta import (
    BASELINE_MODEL_URI,
    MODEL_URI,
    SHADOW_ENV,
    SHADOW_NAMES,
    TRACK,
    TRACK_ENV,
    Obj,
    Owner,
    container,
    with_env,
)
from controller.spec import AutoscalingSpec, RolloutSpec

HELD_FROM = f"{GROUP}/original-min-replicas"


def canary_selector(stable: Obj) -> Obj:
    """The stable selector narrowed to ``track=canary``."""
    selector = copy.deepcopy(stable["spec"]["selector"])
    selector["matchLabels"] = {**selector.get("matchLabels", {}), TRACK: "canary"}
    return selector


def _without(item: Obj, baseline_uri: str | None, shadow: bool) -> Obj:
    """Without shadow, no ``BASELINE_MODEL_URI``; outside the shadow phase, no shadow flag
    (not even one the stable template has)."""
    dropped = set() if baseline_uri is not None else {BASELINE_MODEL_URI}
    dropped |= set() if shadow else set(SHADOW_NAMES)
    item["env"] = [e for e in item["env"] if e.get("name") not in dropped]
    return item


def canary_deployment(
    stable: Obj,
    spec: RolloutSpec,
    owner: Owner,
    model_uri: str,
    baseline_uri: str | None = None,
    shadow: bool = False,
) -> Obj:
    """A copy of the stable pod template serving ``model_uri`` on the canary track; with
    ``baseline_uri`` the pods also score each applicant with it (``BASELINE_MODEL_URI``,
    the shadow phase's paired figures); with ``shadow`` they are shadow pods
    (``INFERENCE_SHADOW=true``: mirrored copies only, no decision recorded).

    ``replicas`` is left out on purpose: the canary HPA owns it (see ``EnsureCanary``)."""
    template = copy.deepcopy(stable["spec"]["template"])
    meta = template.setdefault("metadata", {})
    meta["labels"] = {**meta.get("labels", {}), TRACK: "canary"}
    pod = template["spec"]
    target = container(pod, spec.target_ref.container)
    env = {MODEL_URI: model_uri, **dict.fromkeys(TRACK_ENV, "canary")}
    if baseline_uri is not None:
        env[BASELINE_MODEL_URI] = baseline_uri
    if shadow:
        env[SHADOW_ENV] = "true"
    pod["containers"] = [
        _without(with_env(c, env), baseline_uri, shadow) if c is target else c
        for c in pod["containers"]
    ]
    labels = {**stable["metadata"].get("labels", {}), TRACK: "canary"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": owner.metadata(spec.canary_name, labels),
        "spec": {
            "selector": canary_selector(stable),
            "template": template,
            "revisionHistoryLimit": 2,
            "strategy": stable["spec"].get("strategy", {"type": "RollingUpdate"}),
        },
    }


def canary_service(stable_service: Obj, spec: RolloutSpec, owner: Owner, stable: Obj) -> Obj:
    """A ClusterIP Service like the stable one, selecting only the canary pods."""
    ports = [
        {k: v for k, v in port.items() if k != "nodePort"}
        for port in stable_service["spec"].get("ports", [])
    ]
    labels = {**stable_service["metadata"].get("labels", {}), TRACK: "canary"}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": owner.metadata(spec.canary_service, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": canary_selector(stable)["matchLabels"],
            "ports": ports,
        },
    }


def _hpa_metrics(autoscaling: AutoscalingSpec) -> list[Obj]:
    cpu = {"type": "Utilization", "averageUtilization": autoscaling.target_cpu_utilization}
    found: list[Obj] = [{"type": "Resource", "resource": {"name": "cpu", "target": cpu}}]
    if autoscaling.target_requests_per_second:
        target = {
            "type": "AverageValue",
            "averageValue": f"{autoscaling.target_requests_per_second:g}",
        }
        metric = {"metric": {"name": autoscaling.requests_metric}, "target": target}
        found.append({"type": "Pods", "pods": metric})
    return found


def canary_hpa(spec: RolloutSpec, owner: Owner, min_replicas: int, max_replicas: int) -> Obj:
    """autoscaling/v2 HPA of the canary, bounds sized from the traffic weight."""
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": spec.canary_name}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": owner.metadata(spec.canary_name, {TRACK: "canary"}),
        "spec": {
            "scaleTargetRef": target,
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": _hpa_metrics(spec.autoscaling),
        },
    }


def promote_patch(stable: Obj, spec: RolloutSpec, model_uri: str) -> Obj:
    """Strategic-merge patch: the stable container's MODEL_URI becomes ``model_uri``."""
    name = container(stable["spec"]["template"]["spec"], spec.target_ref.container)["name"]
    env = [{"name": MODEL_URI, "value": model_uri}]
    return {"spec": {"template": {"spec": {"containers": [{"name": name, "env": env}]}}}}


def hpa_floor_patch(min_replicas: int, original: int | None) -> Obj:
    """Merge patch of the stable HPA floor; ``original`` kept as an annotation while held."""
    held = None if original is None else str(original)
    return {"metadata": {"annotations": {HELD_FROM: held}}, "spec": {"minReplicas": min_replicas}}


def floor_in_place(hpa: Obj | None, min_replicas: int, original: int | None) -> bool:
    """Whether ``hpa_floor_patch(min_replicas, original)`` would change nothing in ``hpa``:
    its floor already ``min_replicas`` (absent: 1, the API's default) and its annotation
    already ``original`` (absent when ``None``). ``None`` (no HPA) is never in place."""
    if hpa is None:
        return False
    annotations = (hpa.get("metadata") or {}).get("annotations") or {}
    held = None if original is None else str(original)
    floor = (hpa.get("spec") or {}).get("minReplicas", 1)
    return floor == min_replicas and annotations.get(HELD_FROM) == held


def promoted(stable: Obj, spec: RolloutSpec, model_uri: str) -> bool:
    """Whether ``promote_patch(stable, spec, model_uri)`` would change nothing: the stable
    container's ``MODEL_URI`` already is ``model_uri`` (a literal value)."""
    try:
        target = container(stable["spec"]["template"]["spec"], spec.target_ref.container)
    except (KeyError, ValueError):
        return False
    env = [e for e in target.get("env") or [] if e.get("name") == MODEL_URI]
    return len(env) == 1 and env[0].get("value") == model_uri and "valueFrom" not in env[0]
