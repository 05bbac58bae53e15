"""What the reconcile needs besides the object: the adapters, built once per process.

Tests build a ``Runtime`` by hand (e.g. with a ``FakeMetricsSource`` factory) and hand it
to kopf through ``memo``; ``python -m controller`` builds it from the settings.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration

from controller.hooks import HookClient
from controller.kube import Kube
from controller.mlflow_adapter import ModelRegistry
from controller.notifier import Notifier
from controller.prometheus import HttpMetricsSource, MetricsSource
from controller.secrets import secret_data
from controller.settings import ControllerSettings
from controller.spec import RolloutSpec

MetricsFactory = Callable[[RolloutSpec], MetricsSource]


def http_metrics(spec: RolloutSpec) -> MetricsSource:
    return HttpMetricsSource(spec.prometheus.address, spec.prometheus.timeout)


@dataclass
class Runtime:
    kube: Kube
    registry: ModelRegistry
    settings: ControllerSettings
    metrics_source: MetricsFactory = http_metrics
    hooks: HookClient = field(default_factory=HookClient)
    notifier: Notifier | None = None  # None: transitions are not notified
    locks: defaultdict[str, threading.Lock] = field(
        default_factory=lambda: defaultdict(threading.Lock)
    )

    def lock(self, key: str) -> threading.Lock:
        """One reconcile at a time per ModelRollout (timer and deletion handlers may overlap)."""
        return self.locks[key]


def api_client(settings: ControllerSettings) -> ApiClient:
    """An API client from ``settings.kubeconfig``, else in-cluster, else ~/.kube/config."""
    if settings.kubeconfig:
        return kube_config.new_client_from_config(config_file=settings.kubeconfig)
    configuration = Configuration()
    try:
        kube_config.load_incluster_config(client_configuration=configuration)
    except kube_config.ConfigException:
        kube_config.load_kube_config(client_configuration=configuration)
    return ApiClient(configuration)


def build_runtime(settings: ControllerSettings, api: ApiClient | None = None) -> Runtime:
    kube = Kube(api or api_client(settings), settings.field_manager, settings.request_timeout)
    notifier = Notifier(
        partial(secret_data, kube),
        per_minute=settings.notifications_per_minute,
        burst=settings.notifications_burst,
        capacity=settings.notifications_queue,
    )
    registry = ModelRegistry(settings.mlflow_tracking_uri)
    return Runtime(kube, registry, settings, notifier=notifier)
