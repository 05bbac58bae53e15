"""Fixtures of the container tests: a real Docker engine, the built images, a private
network per test module, and a trained model as a local folder any UID can read."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.container.docker import Container, Network, engine_problem
from tests.support.models import TrainedModel


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.container)


@pytest.fixture(scope="session", autouse=True)
def engine() -> None:
    problem = engine_problem()
    assert problem is None, problem


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    net = Network().create()
    yield net
    net.remove()


@pytest.fixture
def containers() -> Iterator[list[Container]]:
    """Append started containers here; they are removed (with their volumes) afterwards."""
    started: list[Container] = []
    yield started
    for container in started:
        container.remove()


def world_readable(folder: Path) -> Path:
    """The container's UID 10001 must read a bind-mounted folder pytest made 0700."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    parent = folder.parent
    while parent != parent.parent:
        parent.chmod(parent.stat().st_mode | 0o005)
        parent = parent.parent
    return folder


def container_writable(parent: Path, name: str = "mlflow") -> Path:
    """A new folder under pytest's ``parent`` that the container's UID 10001 may write."""
    folder = parent / name
    folder.mkdir()
    folder.chmod(0o777)
    parent.chmod(0o755)
    return folder


@pytest.fixture(scope="session")
def model_folder(default_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default model's MLflow artifacts (contract.json + booster.ubj) as a plain folder."""
    import mlflow.artifacts

    from services.core.registry import client

    client(default_model.tracking_uri)
    target = tmp_path_factory.mktemp("model")
    found = Path(mlflow.artifacts.download_artifacts(default_model.uri, dst_path=str(target)))
    folder = target / "model"
    shutil.copytree(found, folder, dirs_exist_ok=True)
    return world_readable(folder)
