"""Fixtures of the rollout loop on one machine, shared by ``tests/e2e`` and
``tests/system/controller`` (each conftest imports them, so both see the same definitions).

Per session: two real trained model versions (trained once even when both suites run in
one session). Per module: one control plane (etcd, kube-apiserver, controller-manager,
scheduler, kwok), one Prometheus and one operator process. Per test: a namespace with the
stable workload serving real inference processes, and its own registered model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness.cluster import Cluster, start_cluster
from tests.e2e.harness.models import BaseModels, register_scenario_models, train_base_models
from tests.e2e.harness.operator import OperatorProcess
from tests.e2e.harness.prometheus import PrometheusServer
from tests.e2e.harness.scenario import Scenario

__all__ = ["base_models", "cluster", "make_scenario", "operator", "prometheus"]

# Each conftest that imports ``base_models`` registers its own session fixture; this keeps
# the (slow) training to once per process whichever suites run.
_TRAINED: list[BaseModels] = []


@pytest.fixture(scope="session")
def base_models(tmp_path_factory: pytest.TempPathFactory) -> BaseModels:
    if not _TRAINED:
        _TRAINED.append(train_base_models(tmp_path_factory.mktemp("e2e-mlflow")))
    return _TRAINED[0]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    found = start_cluster(tmp_path_factory.mktemp("e2e-cluster"))
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    server = PrometheusServer(tmp_path_factory.mktemp("e2e-prometheus")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def operator(
    cluster: Cluster, base_models: BaseModels, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    proc = OperatorProcess(
        cluster.operator_kubeconfig,
        base_models.tracking_uri,
        tmp_path_factory.mktemp("e2e-operator"),
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


def _namespace(node_name: str) -> str:
    short = re.sub(r"[^a-z0-9]+", "-", node_name.lower().removeprefix("test_")).strip("-")
    return f"e2e-{short}"[:50].rstrip("-")


@pytest.fixture
def make_scenario(
    request: pytest.FixtureRequest,
    cluster: Cluster,
    prometheus: PrometheusServer,
    base_models: BaseModels,
    tmp_path: Path,
) -> Iterator[Callable[..., Scenario]]:
    """``make_scenario(replicas=2, hpa=(2, 4), env=None)`` → a set-up :class:`Scenario`."""
    made: list[Scenario] = []

    def make(**kwargs: object) -> Scenario:
        namespace = _namespace(request.node.name)
        models = register_scenario_models(base_models, namespace)
        scenario = Scenario(cluster, prometheus, models, namespace, tmp_path)
        made.append(scenario)
        return scenario.setup(**kwargs)  # type: ignore[arg-type]

    yield make
    for scenario in made:
        scenario.teardown()
