"""Plain JSON dicts out of the typed kubernetes client (camelCase keys, as ``kubectl get
-o json`` prints them): the harness reads objects the way the API serves them."""

from __future__ import annotations

from typing import Any, cast

from kubernetes import client

Obj = dict[str, Any]
TIMEOUT = 5.0  # seconds per API request of the harness's polling threads (never hang)


def plain(api: client.ApiClient, obj: object) -> Obj:
    return cast(Obj, api.sanitize_for_serialization(obj))


def items(api: client.ApiClient, listed: Any) -> list[Obj]:
    """The ``items`` of a typed list response, as dicts."""
    return [plain(api, item) for item in listed.items or []]


def name(obj: Obj) -> str:
    return str(obj["metadata"]["name"])


def labels_of(obj: Obj) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("labels") or {})


def annotations_of(obj: Obj) -> dict[str, str]:
    return dict(obj.get("metadata", {}).get("annotations") or {})
