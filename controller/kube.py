"""The Kubernetes adapter: a few verbs over the raw REST API of an ``ApiClient``.

Writes carry the controller's ``fieldManager``: canary objects by server-side apply
(``force``: the controller owns them), the stable Deployment by a strategic-merge patch of
one env entry, HPA floors and HTTPRoute weights by merge patches guarded with the read
``resourceVersion`` and retried on 409 Conflict.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError as TransportError

import controller.metrics as own_metrics
from controller.cache import ObjectCache

Obj = dict[str, Any]
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
# a LIST of the objects' metadata only (names, versions): what the cache's names need
METADATA = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"


class KubeError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


@dataclass(frozen=True)
class Resource:
    api_version: str
    plural: str

    def path(self, namespace: str, name: str | None = None, sub: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        path = f"{base}/namespaces/{quote(namespace)}/{self.plural}"
        return path + (f"/{quote(name)}" if name else "") + (f"/{sub}" if sub else "")


DEPLOYMENTS = Resource("apps/v1", "deployments")
SERVICES = Resource("v1", "services")
HPAS = Resource("autoscaling/v2", "horizontalpodautoscalers")
HTTPROUTES = Resource("gateway.networking.k8s.io/v1", "httproutes")
INGRESSES = Resource("networking.k8s.io/v1", "ingresses")
EVENTS = Resource("v1", "events")
ROLLOUTS = Resource("mlops.creditrisk.io/v1alpha1", "modelrollouts")
SECRETS = Resource("v1", "secrets")  # get only, by name (webhook keys, notification URLs)
BY_KIND = {
    "Deployment": DEPLOYMENTS,
    "Service": SERVICES,
    "HorizontalPodAutoscaler": HPAS,
    "HTTPRoute": HTTPROUTES,
    "Ingress": INGRESSES,
    "Event": EVENTS,
    "ModelRollout": ROLLOUTS,
}


CACHED = frozenset(r.plural for r in (DEPLOYMENTS, SERVICES, HPAS, HTTPROUTES))


class Kube:
    """With a ``cache`` (``controller.cache``, fed by the operator's watches), ``get`` of a
    cached kind answers from it when it can, and every object read or written is kept."""

    def __init__(
        self,
        api: ApiClient,
        field_manager: str,
        timeout: float = 10.0,
        cache: ObjectCache | None = None,
    ) -> None:
        self.api, self.field_manager, self.timeout = api, field_manager, timeout
        self.cache = cache
        self.requests = 0  # API requests made (for benchmarks)
        self._listing = threading.Lock()  # one names LIST at a time (``_complete``)

    def _kept(self, res: Resource, obj: Obj) -> Obj:
        if self.cache is not None and obj.get("metadata"):
            self.cache.store(res.plural, obj)
        return obj

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Obj:
        headers = {"Accept": accept, "Content-Type": content_type}
        params = list((query or {}).items())
        serialized = self.api.param_serialize(
            method,
            path,
            query_params=params,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        self.requests += 1
        try:
            response = self.api.call_api(*serialized[:4], _request_timeout=self.timeout)
            data = response.read()
        except ApiException as exc:
            raise KubeError(exc.status or 0, str(exc.reason or exc.body)) from exc
        except TransportError as exc:  # timeout, refused: retried at the next tick, not in 60 s
            raise KubeError(0, f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status < 300:
            raise KubeError(response.status, data.decode(errors="replace")[:500])
        return json.loads(data) if data else {}

    def get(self, res: Resource, namespace: str, name: str, fresh: bool = False) -> Obj | None:
        """The object, ``None`` if absent; from the cache unless ``fresh`` (then a GET)."""
        cache = self.cache
        if cache is not None and cache.caches(res.plural):
            known, found = (False, None) if fresh else cache.lookup(res.plural, namespace, name)
            if not known and not fresh and self._complete(res, namespace):
                known, found = cache.lookup(res.plural, namespace, name)
            own_metrics.CACHE_READS.labels(res.plural, "hit" if known else "miss").inc()
            if known:
                return found
        try:
            return self._kept(res, self.request("GET", res.path(namespace, name)))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def _complete(self, res: Resource, namespace: str) -> bool:
        """Once the watch of ``res`` runs in ``namespace``, LIST the names there (once; a
        failure is retried at the next miss), so a name nobody has seen reads as absent
        without a GET. ``True`` when this call completed the cache."""
        cache = self.cache
        if cache is None or not cache.watched(res.plural, namespace):
            return False
        with self._listing:
            if cache.listed(res.plural, namespace):
                return False
            names: list[str] = []
            query = {"limit": "500"}
            try:
                while True:
                    page = self.request("GET", res.path(namespace), query=query, accept=METADATA)
                    names += [i["metadata"]["name"] for i in page.get("items", [])]
                    token = (page.get("metadata") or {}).get("continue")
                    if not token:
                        break
                    query = {"limit": "500", "continue": token}
            except KubeError:
                return False
            cache.complete(res.plural, namespace, names)
            return True

    def list(self, res: Resource, namespace: str, selector: str | None = None) -> list[Obj]:
        query = {"labelSelector": selector} if selector else None
        return list(self.request("GET", res.path(namespace), query=query).get("items", []))

    def apply(self, obj: Obj) -> Obj:
        """Server-side apply of a whole object we own (``force``: we win conflicts)."""
        res, meta = BY_KIND[obj["kind"]], obj["metadata"]
        query = {"fieldManager": self.field_manager, "force": "true"}
        path = res.path(meta["namespace"], meta["name"])
        return self._kept(res, self.request("PATCH", path, obj, query, APPLY))

    def patch(
        self,
        res: Resource,
        namespace: str,
        name: str,
        body: Obj,
        content_type: str = MERGE,
        sub: str | None = None,
    ) -> Obj:
        query = {"fieldManager": self.field_manager}
        path = res.path(namespace, name, sub)
        return self._kept(res, self.request("PATCH", path, body, query, content_type))

    def modify(
        self,
        res: Resource,
        namespace: str,
        name: str,
        change: Callable[[Obj], Obj | None],
        attempts: int = 5,
    ) -> Obj | None:
        """Read, compute a merge patch, write it guarded by resourceVersion; retry on 409.

        ``change`` returns ``None`` when nothing needs to change. Returns the object, or
        ``None`` if it does not exist. The first read may come from the cache (a stale copy
        meets a 409), the retries are GETs."""
        for attempt in range(attempts):
            current = self.get(res, namespace, name, fresh=attempt > 0)
            body = None if current is None else change(current)
            if current is None or body is None:
                return current
            body.setdefault("metadata", {})["resourceVersion"] = current["metadata"][
                "resourceVersion"
            ]
            try:
                return self.patch(res, namespace, name, body)
            except KubeError as exc:
                if exc.status != 409 or attempt == attempts - 1:
                    raise
        return None

    def delete(self, res: Resource, namespace: str, name: str, uid: str | None = None) -> bool:
        """Delete; with ``uid``, only that very object (a precondition the API server checks,
        so an object re-created under the same name meanwhile is left alone: 409)."""
        body: Obj = {"propagationPolicy": "Background"}
        if uid is not None:
            body["preconditions"] = {"uid": uid}
        try:
            gone = self.request("DELETE", res.path(namespace, name), body)
        except KubeError as exc:
            if exc.status == 404:
                if self.cache is not None:
                    self.cache.forget(res.plural, namespace, name)
                return False
            raise
        if self.cache is not None:
            self.cache.forget(res.plural, namespace, name, gone)
        return True

    def create(self, res: Resource, namespace: str, body: Obj) -> Obj:
        query = {"fieldManager": self.field_manager}
        return self._kept(res, self.request("POST", res.path(namespace), body, query))
