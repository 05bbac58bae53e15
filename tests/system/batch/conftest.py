"""Fixtures of the batch system tests: the session's trained model (registered in a
temporary MLflow store by ``tests/conftest.py``) and live batch stacks that are always
torn down, their logs kept in the test's temp folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.core.model_store import LoadedModel, load_model
from tests.support.models import TrainedModel
from tests.system.batch.stack import BatchStack, OutageRedis, Persistence, stack_settings

Launch = Callable[..., BatchStack]


def start_stack(
    root: Path,
    model: TrainedModel,
    persistence: Persistence = Persistence.EMPTY,
    workers: int = 2,
    **overrides: object,
) -> BatchStack:
    """Redis, the job API and ``workers`` workers scoring with the registered model."""
    redis = OutageRedis(root / "redis", persistence).start()
    settings = stack_settings(redis, root, model.uri, model.tracking_uri, **overrides)
    stack = BatchStack(settings, redis, root / "logs")
    try:
        return stack.start(workers)
    except BaseException:
        stack.stop()
        raise


@pytest.fixture(scope="session")
def scoring_model(default_model: TrainedModel) -> LoadedModel:
    """The registered model, loaded here to score the books in-process for comparison."""
    return load_model(default_model.uri, default_model.tracking_uri, nthread=1)


@pytest.fixture
def launch(default_model: TrainedModel, tmp_path: Path) -> Iterator[Launch]:
    """Start batch stacks for one test; each is stopped after it."""
    stacks: list[BatchStack] = []

    def start(
        persistence: Persistence = Persistence.EMPTY, workers: int = 2, **overrides: object
    ) -> BatchStack:
        root = tmp_path / f"stack-{len(stacks)}"
        stack = start_stack(root, default_model, persistence, workers, **overrides)
        stacks.append(stack)
        return stack

    yield start
    for stack in stacks:
        stack.stop()
