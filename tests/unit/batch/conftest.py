"""Unit-test fixtures: the session's test model (trained once into a temp MLflow store)
and synthetic applicants."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from services.core.datasets import load_config
from services.core.model_store import LoadedModel, load_model
from services.core.synthetic import ApplicantGenerator
from tests.support.models import TrainedModel, once_per_process


@pytest.fixture(scope="session")
def model(request: pytest.FixtureRequest) -> LoadedModel:
    """The default test model, trained and loaded once per process (``once_per_process``:
    a mutmut mutant's forked session does not train it again)."""

    def make() -> LoadedModel:
        trained: TrainedModel = request.getfixturevalue("default_model")
        return load_model(trained.uri, trained.tracking_uri, nthread=1)

    loaded: LoadedModel = once_per_process("unit-batch-model", make)
    return loaded


@pytest.fixture(scope="session")
def applicants() -> Callable[[int, int], pd.DataFrame]:
    generator = ApplicantGenerator.from_config(load_config("default"))

    def sample(n: int, seed: int = 0) -> pd.DataFrame:
        frame = generator.sample(n, seed=seed)
        frame["student"] = frame["student"].astype(str)
        return frame

    return sample
