"""Thin kopf registration: every handler gathers nothing itself and calls ``reconcile``.

- a timer every ``CONTROLLER_TICK_SECONDS`` per ModelRollout (first run at once): the
  analysis interval, deadlines and operator-action annotations are all handled there; a
  finished rollout that nothing can make act, or a Progressing one whose next analysis is
  not due yet, is skipped without a read (``idle``);
- ``on.delete`` (kopf's finalizer): traffic back to stable, canary objects removed;
- ``on.event`` for Deployments, Services, HPAs and HTTPRoutes: their watch events feed the
  read cache (``controller.cache``; kopf lists and watches, we keep the tracked objects),
  only when the operator watches named namespaces (where the RBAC grants the watch);
- startup: kopf settings (annotation storages, finalizer name), the adapters, /metrics;
- cleanup (SIGTERM, SIGINT, the stop flag): the Events still queued are posted within
  ``CONTROLLER_EVENTS_DRAIN_SECONDS``, the rest dropped, counted and logged;
- login: the same credentials as the adapters' ``ApiClient``.

Errors map onto kopf's semantics: API / MLflow / missing-object trouble is a
``TemporaryError`` (retried next tick); an invalid spec is a ``PermanentError``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from typing import Any

import kopf
from prometheus_client import start_http_server

from controller import ACTION_ANNOTATION, GROUP, PLURAL, VERSION
from controller.kube import BY_KIND, DEPLOYMENTS, HPAS, HTTPROUTES, SERVICES, KubeError
from controller.mlflow_adapter import RegistryError
from controller.prometheus import PrometheusUnavailable
from controller.reconcile import InvalidSpec, idle, reconcile
from controller.rollout.urgency import order, starting, urgency
from controller.runtime import Runtime, build_runtime
from controller.settings import ControllerSettings, get_settings
from controller.target import MissingObject, NotOwned

RESOURCE = (GROUP, VERSION, PLURAL)
# NotOwned is retried too: it clears once a human removes or hands over the squatting object.
TRANSIENT = (KubeError, MissingObject, NotOwned, RegistryError, PrometheusUnavailable, OSError)


def configure(settings: kopf.OperatorSettings, memo: Any, **_: Any) -> None:
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING  # our own Events tell the story
    settings.peering.standalone = True
    settings.scanning.disabled = True  # no CRD/namespace listing: least privilege
    if getattr(memo, "runtime", None) is None:
        memo.runtime = build_runtime(get_settings())
    # A deletion that arrives while the timer's thread is mid-reconcile waits for the timer
    # to exit; kopf re-checks every `cancellation_polling` seconds (default 60), so the
    # finalizer would hold the object a minute. Re-check once per tick instead.
    settings.background.cancellation_polling = memo.runtime.settings.tick_seconds
    # The deletion handler is sync: kopf runs it in its executor, min(32, cpus + 4)
    # threads by default; the timer's reconciles run on the runtime's tick threads, most
    # urgent first. Both bounded by CONTROLLER_WORKERS (a reconcile mostly waits on I/O).
    settings.execution.max_workers = memo.runtime.settings.workers
    port = memo.runtime.settings.metrics_port
    if port and not getattr(memo, "metrics_started", False):
        start_http_server(port)
        memo.metrics_started = True


async def cleanup(memo: Any, **_: Any) -> None:
    """At shutdown: drain the Event queue, bounded. Off kopf's executor (whose threads may
    all be busy with reconciles at that moment), in a thread of the loop's own."""
    runtime = getattr(memo, "runtime", None)
    if runtime is not None and runtime.events is not None:
        await asyncio.to_thread(runtime.events.stop, runtime.settings.events_drain_seconds)


def _bearer_token(raw: str) -> str | None:
    """The token of an ``Authorization`` value. The in-cluster loader of the kubernetes
    client writes ``bearer <token>`` (lower case), kubeconfigs ``Bearer <token>``: the
    scheme is case-insensitive (RFC 9110), and sending it twice is a 401 in every pod."""
    scheme, _, rest = raw.strip().partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" and rest.strip() else raw.strip()
    return token or None


def login(memo: Any, **_: Any) -> kopf.ConnectionInfo:
    """kopf talks to the API with the adapters' credentials (kubeconfig or in-cluster)."""
    cfg = memo.runtime.kube.api.configuration
    keys = cfg.api_key or {}
    token = _bearer_token(str(keys.get("authorization") or keys.get("BearerToken") or ""))
    return kopf.ConnectionInfo(
        server=cfg.host,
        ca_path=cfg.ssl_ca_cert,
        insecure=not cfg.verify_ssl,
        scheme="Bearer" if token else None,
        token=token,
        certificate_path=cfg.cert_file,
        private_key_path=cfg.key_file,
    )


async def cached(memo: Any, event: Any, **_: Any) -> None:
    """A watch event of a cached kind: into the read cache (in kopf's loop: a dict update)."""
    cache = memo.runtime.kube.cache
    obj = event.get("object") if isinstance(event, dict) else None
    if cache is None or not isinstance(obj, dict):
        return
    res = BY_KIND.get(str(obj.get("kind", "")))
    if res is not None and cache.caches(res.plural):
        cache.observe(res.plural, event.get("type"), obj)


def _run(runtime: Runtime, namespace: str, name: str, body: dict[str, Any] | None = None) -> None:
    try:
        reconcile(runtime, namespace, name, body=body)
    except InvalidSpec as exc:
        raise kopf.PermanentError(f"invalid spec: {exc}") from exc
    except TRANSIENT as exc:
        raise kopf.TemporaryError(str(exc), delay=runtime.settings.tick_seconds) from exc


def _tick(runtime: Runtime, namespace: str, name: str, body: Any) -> None:
    if body is not None and idle(runtime, dict(body)):
        return
    _run(runtime, namespace, name, _copy(body))


async def tick(
    memo: Any, namespace: str | None, name: str | None, body: Any = None, **_: Any
) -> None:
    """Reconcile, unless kopf's copy of the object shows a finished rollout that nothing
    can make act or a Progressing one between analyses (then nothing is read:
    ``reconcile.idle``). Runs on the runtime's tick
    threads (``CONTROLLER_WORKERS``), most urgent tick first (``rollout.urgency``), those of
    starting rollouts ``CONTROLLER_START_WORKERS`` at a time (``ticks.TickPool``); kopf's
    copy is taken when the tick starts, so a tick that waited sees the latest."""
    runtime = memo.runtime
    level = urgency(body, ACTION_ANNOTATION)
    key = order(level, time.monotonic(), 2 * runtime.settings.tick_seconds)
    pool = runtime.tick_pool()
    start = starting(body, ACTION_ANNOTATION)
    job = pool.submit(key, _tick, runtime, namespace or "", name or "", body, start=start)
    await asyncio.wrap_future(job)


def _copy(body: Any) -> dict[str, Any] | None:
    """A private copy of kopf's body (a view of its latest watched object)."""
    return None if body is None else copy.deepcopy(dict(body))


def finalize(memo: Any, namespace: str | None, name: str | None, **_: Any) -> None:
    _run(memo.runtime, namespace or "", name or "")
    memo.runtime.rollouts.drop(namespace or "", name or "")


def register(
    registry: kopf.OperatorRegistry, settings: ControllerSettings
) -> kopf.OperatorRegistry:
    """Register the handlers on ``registry`` (the default one for ``python -m controller``)."""
    kopf.on.startup(registry=registry)(configure)
    kopf.on.login(registry=registry)(login)
    kopf.on.cleanup(registry=registry)(cleanup)
    kopf.timer(*RESOURCE, interval=settings.tick_seconds, id="reconcile", registry=registry)(tick)
    kopf.on.delete(*RESOURCE, id="finalize", registry=registry)(finalize)
    if not settings.namespaces:
        # All namespaces: the RBAC grants list/watch of these kinds only per namespace
        # (k8s/rbac/clusterwide reads nothing but ModelRollouts cluster-wide), so kopf
        # would be refused a cluster-wide watch. No watch: every read is a GET.
        return registry
    for res in (DEPLOYMENTS, SERVICES, HPAS, HTTPROUTES):
        kopf.on.event(res.api_version, res.plural, id=f"cache-{res.plural}", registry=registry)(
            cached
        )
    return registry
