"""The kind scenarios (marker ``kind``): on the cluster ``make test-kind`` brings up
(make kind-up images kind-load deploy). They are deselected unless the marker expression
names ``kind`` (``pytest -m kind``): the rest of the suite does not bring a cluster up. When
selected they never skip: no cluster, or no deployed release, fails the session's first
test with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.kind.cluster import Cluster, from_env, reachable_problem

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
