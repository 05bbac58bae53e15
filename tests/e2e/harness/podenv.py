"""The environment of a pod's container, as the kubelet would give it to the process.

Literal ``value`` entries and the common ``fieldRef`` paths are resolved from the pod
itself; ``configMapKeyRef``/``secretKeyRef``/``envFrom`` are not (the inference pods of the
scenarios do not use them) and are reported by :func:`container_env` as unresolved.
"""

from __future__ import annotations

import re
from typing import Any

Obj = dict[str, Any]

_LABEL = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


def field_value(pod: Obj, path: str) -> str | None:
    meta, spec, status = pod.get("metadata", {}), pod.get("spec", {}), pod.get("status", {})
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
    }
    if path in simple:
        return simple[path]
    found = _LABEL.fullmatch(path)
    if found:
        return (meta.get(found.group(1)) or {}).get(found.group(2))
    return None


def first_container(pod: Obj, name: str | None = None) -> Obj:
    containers = pod.get("spec", {}).get("containers") or [{}]
    return next((c for c in containers if name is None or c.get("name") == name), containers[0])


def container_env(pod: Obj, name: str | None = None) -> tuple[dict[str, str], list[str]]:
    """(resolved env, names that could not be resolved) of the pod's container."""
    env: dict[str, str] = {}
    unresolved: list[str] = []
    for item in first_container(pod, name).get("env") or []:
        key, source = item["name"], item.get("valueFrom")
        if source is None:  # the API drops an empty value: the kubelet sets ""
            env[key] = str(item.get("value") or "")
            continue
        ref = source.get("fieldRef")
        value = field_value(pod, ref["fieldPath"]) if ref else None
        if value is None:
            unresolved.append(key)
        else:
            env[key] = value
    return env, unresolved
