"""Unit-test fixtures: the session's test model (trained once into a temp MLflow store)
and synthetic applicants."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from services.core.datasets import load_config
from services.core.model_store import LoadedModel, load_model
from services.core.synthetic import ApplicantGenerator
from tests.support.models import TrainedModel


@pytest.fixture(scope="session")
def model(default_model: TrainedModel) -> LoadedModel:
    return load_model(default_model.uri, default_model.tracking_uri, nthread=1)


@pytest.fixture(scope="session")
def applicants() -> Callable[[int, int], pd.DataFrame]:
    generator = ApplicantGenerator.from_config(load_config("default"))

    def sample(n: int, seed: int = 0) -> pd.DataFrame:
        frame = generator.sample(n, seed=seed)
        frame["student"] = frame["student"].astype(str)
        return frame

    return sample
