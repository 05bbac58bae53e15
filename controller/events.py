"""Kubernetes Events about a ModelRollout (core/v1, as ``kubectl describe`` shows them)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

from controller import GROUP, KIND, VERSION

COMPONENT = "modelrollout-controller"


def event(
    rollout: dict[str, Any], kind: str, reason: str, message: str, now: datetime
) -> dict[str, Any]:
    meta = rollout["metadata"]
    stamp = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    involved = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": meta["name"],
        "namespace": meta["namespace"],
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
        "involvedObject": involved,
        "type": kind,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT, "host": socket.gethostname()},
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }
