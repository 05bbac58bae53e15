"""Shared fixtures: real servers on free ports and real models in temporary MLflow stores."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

# Under mutmut each mutant's tests run in a process forked from the one that ran the whole
# session: GNU OpenMP is not fork-safe, so once XGBoost used its thread pool there, a forked
# child's first predict waits forever on that pool's lock (a futex, until mutmut's time
# limit: "timeout" meant nothing). One OpenMP thread starts no pool. Set before anything
# loads libgomp (the imports below load XGBoost).
if "mutmut" in sys.modules or "MUTANT_UNDER_TEST" in os.environ:
    os.environ["OMP_NUM_THREADS"] = "1"

import pytest

from tests.support.models import TrainedModel, tracking_uri_for, train_quick
from tests.support.postgres import PostgresServer, postgres_server
from tests.support.processes import RedisServer, redis_server

os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Tracking URI of a session-wide temporary MLflow store (sqlite + local artifacts)."""
    return tracking_uri_for(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture(scope="session")
def default_model(model_store: str) -> TrainedModel:
    """A model trained on the bundled Default data, registered as ``default-model``."""
    return train_quick(model_store, "default")


@pytest.fixture(scope="session")
def lending_club_model(model_store: str) -> TrainedModel:
    return train_quick(model_store, "lending_club")


@pytest.fixture(scope="session")
def credit_data_model(model_store: str) -> TrainedModel:
    return train_quick(model_store, "credit_data")


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh real redis-server on a free port, stopped after the test."""
    with redis_server(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A fresh real PostgreSQL (initdb + pg_ctl, as the ``postgres`` user under root) on a
    free port, stopped and removed after the test."""
    with postgres_server() as server:
        yield server
