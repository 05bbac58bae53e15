"""The kind scenarios (marker ``kind``): on the cluster ``make test-kind`` brings up
(make kind-up images kind-load deploy). They are deselected unless the marker expression
names ``kind`` (``pytest -m kind``): the rest of the suite does not bring a cluster up. When
selected they never skip: no cluster, or no deployed release, fails the session's first
test with the reason."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kind.cluster import Cluster, from_env, reachable_problem
from tests.kind.outside import start_training, training_version

HERE = Path(__file__).parent


def _is_kind(item: pytest.Item) -> bool:
    return HERE in Path(str(item.fspath)).parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kind_items = [item for item in items if _is_kind(item)]
    for item in kind_items:
        item.add_marker(pytest.mark.kind)
    if "kind" in (config.getoption("markexpr") or ""):
        return
    if kind_items:
        config.hook.pytest_deselected(items=kind_items)
        items[:] = [item for item in items if not _is_kind(item)]


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    found = from_env()
    problem = reachable_problem(found)
    assert problem is None, problem
    return found


@dataclass(frozen=True)
class Candidates:
    """The two candidates of the rollout scenario, trained by Jobs started when the session
    begins (they train while the shorter scenarios run): a good one and a faulty one
    (scripts/kind/train_drifted.py). Their versions come from the Jobs' own summaries, so
    the order they register in does not matter."""

    cluster: Cluster
    good_job: str
    faulty_job: str

    def good(self) -> int:
        return training_version(self.cluster, self.good_job)

    def faulty(self) -> int:
        return training_version(self.cluster, self.faulty_job)


@pytest.fixture(scope="session")
def candidates(cluster: Cluster) -> Candidates:
    run = int(time.time())  # a fresh Job name per run (a rerun on a kept cluster)
    found = Candidates(
        cluster,
        cluster.name_of(f"train-good-{run}"),
        cluster.name_of(f"train-faulty-{run}"),
    )
    start_training(cluster, found.good_job)
    start_training(cluster, found.faulty_job, ["python", "/opt/e2e/train_drifted.py"])
    return found


@pytest.fixture(scope="session", autouse=True)
def _train_early(request: pytest.FixtureRequest) -> None:
    """Start the candidates' training with the session when a selected test needs them."""
    if any("candidates" in getattr(item, "fixturenames", ()) for item in request.session.items):
        request.getfixturevalue("candidates")
