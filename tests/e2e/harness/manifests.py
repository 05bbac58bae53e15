"""Pure builders of the objects a scenario starts from: the stable inference workload as a
platform team would deploy it (Deployment, Service, HPA, HTTPRoute) and a ModelRollout."""

from __future__ import annotations

import copy
from typing import Any

from tests.e2e.harness.kwok import COMPONENT, COMPONENT_LABEL

Obj = dict[str, Any]
NAME = "inference"
GATEWAY = "gateway"
SELECTOR = {"app.kubernetes.io/name": NAME, COMPONENT_LABEL: COMPONENT}
STABLE = {**SELECTOR, "track": "stable"}
# what the chart would set; the pod runner rewrites the tracking URI to the test store
POD_ENV = {
    "MLFLOW_TRACKING_URI": "http://mlflow.credit-risk:5000",
    "INFERENCE_RATE_LIMIT": "",  # the load generator is one client at 40 req/s
    "INFERENCE_LOG_JSON": "false",
    "INFERENCE_DRIFT_MIN_SAMPLES": "100",
}


def deep_merge(base: Obj, extra: Obj) -> Obj:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def stable_deployment(
    namespace: str, model_uri: str, replicas: int = 2, env: dict[str, str] | None = None
) -> Obj:
    values = {"MODEL_URI": model_uri, "TRACK": "stable", **POD_ENV, **(env or {})}
    container = {
        "name": NAME,
        "image": "creditrisk/inference:e2e",
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": [{"name": k, "value": v} for k, v in values.items()],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}},
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": namespace, "labels": dict(STABLE)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(STABLE)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "100%", "maxUnavailable": 0},
            },
            "template": {
                "metadata": {"labels": dict(STABLE)},
                "spec": {"containers": [container], "terminationGracePeriodSeconds": 5},
            },
        },
    }


def stable_service(namespace: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": namespace, "labels": dict(STABLE)},
        "spec": {
            "selector": dict(STABLE),
            "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
        },
    }


def stable_hpa(namespace: str, min_replicas: int, max_replicas: int) -> Obj:
    cpu = {"type": "Utilization", "averageUtilization": 70}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": NAME, "namespace": namespace, "labels": dict(STABLE)},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "minReplicas": min_replicas,
            "maxReplicas": max_replicas,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": cpu}}],
        },
    }


def http_route(namespace: str) -> Obj:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": NAME, "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": GATEWAY}],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                    "backendRefs": [{"name": NAME, "port": 80, "weight": 100}],
                }
            ],
        },
    }


def model_rollout(namespace: str, name: str, model_uri: str, prometheus: str, **spec: Any) -> Obj:
    """A ModelRollout with intervals of seconds; ``spec`` entries are deep-merged in."""
    base: Obj = {
        "targetRef": {"kind": "Deployment", "name": NAME},
        "model": {"uri": model_uri},
        "canary": {
            "steps": [25, 50],
            "interval": "5s",
            "failureThreshold": 2,
            "progressDeadline": "90s",
        },
        # a 10 s window at 50 req/s puts 100+ canary requests in each analysis at 25 %;
        # the PSI gates wait for 200 rows in a canary pod's window (minDriftSamples)
        "analysis": {"minRequests": 80, "window": "10s", "maxUnreachable": 3},
        "autoscaling": {"minReplicas": 1, "maxReplicas": 2},
        "router": {"httpRoute": {"name": NAME}},
        "prometheus": {
            "address": prometheus,
            "selector": {"namespace": namespace},
            "timeout": "2s",
        },
    }
    return {
        "apiVersion": "mlops.creditrisk.io/v1alpha1",
        "kind": "ModelRollout",
        "metadata": {"name": name, "namespace": namespace},
        "spec": deep_merge(base, spec),
    }
