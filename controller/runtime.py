"""What the reconcile needs besides the object: the adapters, built once per process.

Tests build a ``Runtime`` by hand (e.g. with a ``FakeMetricsSource`` factory) and hand it
to kopf through ``memo``; ``python -m controller`` builds it from the settings.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration

from controller.cache import LatestCopies, ObjectCache
from controller.events import EventQueue
from controller.hooks import HookClient
from controller.kube import CACHED, Kube
from controller.mlflow_adapter import ModelRegistry
from controller.notifier import Notifier
from controller.prometheus import MetricsSource, SharedHttpMetrics
from controller.secrets import secret_data
from controller.settings import ControllerSettings
from controller.spec import RolloutSpec
from controller.ticks import TickPool

MetricsFactory = Callable[[RolloutSpec], MetricsSource]


def http_metrics(shared: SharedHttpMetrics) -> MetricsFactory:
    """The factory of real sources: one pooled client per Prometheus address, reused."""

    def build(spec: RolloutSpec) -> MetricsSource:
        return shared.source(spec.prometheus.address, spec.prometheus.timeout)

    return build


def _pool(name: str, size: int = 16) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix=name)


@dataclass
class Runtime:
    kube: Kube
    registry: ModelRegistry
    settings: ControllerSettings
    metrics_source: MetricsFactory = field(
        default_factory=lambda: http_metrics(SharedHttpMetrics())
    )
    hooks: HookClient = field(default_factory=HookClient)
    notifier: Notifier | None = None  # None: transitions are not notified
    locks: defaultdict[str, threading.Lock] = field(
        default_factory=lambda: defaultdict(threading.Lock)
    )
    # Threads for the independent reads of one reconcile (a canary GET, an analysis) and,
    # separately, for the PromQL queries of one analysis: a reads task waits on queries
    # tasks, never on another reads task, so neither pool can deadlock.
    reads: ThreadPoolExecutor = field(default_factory=lambda: _pool("reads"))
    queries: ThreadPoolExecutor = field(default_factory=lambda: _pool("promql"))
    # Threads for the independent writes of one reconcile's effects (``controller.parallel``:
    # the canary's HPA, Deployment and Service deletes, the stable HPA's floor beside the
    # canary's clean-up, the canary HPA's apply beside its Deployment's). Its tasks never
    # wait on it themselves.
    writes: ThreadPoolExecutor = field(default_factory=lambda: _pool("writes", 8))
    # Threads that load contracts ahead of the tick that checks them (``observe.
    # warm_contracts``); None: each check loads its contracts itself.
    warm: ThreadPoolExecutor | None = field(default_factory=lambda: _pool("contracts", 2))
    # HPA of each stable Deployment (namespace, deployment) → HPA name, as last found:
    # read by name, the namespace listed only when it no longer matches.
    hpa_names: dict[tuple[str, str], str] = field(default_factory=dict)
    # The copy of each ModelRollout our last write to it returned (``reconcile``).
    rollouts: LatestCopies = field(default_factory=LatestCopies)
    # Events posted by background threads (None: posted in the reconcile, in turn).
    events: EventQueue | None = None
    # The threads of the timer's reconciles, most urgent first (made on first use).
    ticks: TickPool | None = None

    def tick_pool(self) -> TickPool:
        with self.locks["ticks"]:
            if self.ticks is None:
                self.ticks = TickPool(self.settings.workers, starts=self.settings.start_workers)
            return self.ticks

    def lock(self, key: str) -> threading.Lock:
        """One reconcile at a time per ModelRollout (timer and deletion handlers may overlap)."""
        return self.locks[key]


def api_client(settings: ControllerSettings) -> ApiClient:
    """An API client from ``settings.kubeconfig``, else in-cluster, else ~/.kube/config,
    with two pooled connections per worker (a reconcile reads its canary Deployment beside
    the rest; urllib3 would open and drop connections beyond the pool)."""
    configuration = Configuration()
    if settings.kubeconfig:
        kube_config.load_kube_config(settings.kubeconfig, client_configuration=configuration)
    else:
        try:
            kube_config.load_incluster_config(client_configuration=configuration)
        except kube_config.ConfigException:
            kube_config.load_kube_config(client_configuration=configuration)
    configuration.connection_pool_maxsize = max(
        configuration.connection_pool_maxsize, 2 * settings.workers
    )
    return ApiClient(configuration)


def build_runtime(settings: ControllerSettings, api: ApiClient | None = None) -> Runtime:
    kube = Kube(
        api or api_client(settings),
        settings.field_manager,
        settings.request_timeout,
        cache=ObjectCache(CACHED, keep_all=True),  # as an informer: no first-read GETs
    )
    notifier = Notifier(
        partial(secret_data, kube),
        per_minute=settings.notifications_per_minute,
        burst=settings.notifications_burst,
        capacity=settings.notifications_queue,
    )
    registry = ModelRegistry(settings.mlflow_tracking_uri)
    connections = settings.prometheus_connections
    return Runtime(
        kube,
        registry,
        settings,
        metrics_source=http_metrics(SharedHttpMetrics(connections)),
        notifier=notifier,
        events=EventQueue(kube).start(),
        reads=_pool("reads", 2 * settings.workers),
        queries=_pool("promql", connections),
        writes=_pool("writes", settings.workers),
    )
