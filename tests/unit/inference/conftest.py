"""Contracts for unit tests, built from the bundled dataset configs without training."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from services.core.contract import FeatureSpec, FeatureType, Histogram, ModelContract, RiskBand
from services.core.datasets import load_config


def histogram(spec: FeatureSpec) -> Histogram:
    if spec.is_categorical:
        levels = spec.levels or []
        share = 1.0 / len(levels)
        return Histogram(
            kind="categorical", levels=levels, proportions=[share] * len(levels) + [0.0, 0.0]
        )
    low, high = spec.min or 0.0, spec.max if spec.max is not None else 100.0
    edges = [low + (high - low) * q for q in (0.25, 0.5, 0.75)]
    return Histogram(kind="numeric", edges=edges, proportions=[0.25] * 4 + [0.0])


def make_contract(features: Sequence[FeatureSpec], name: str = "toy") -> ModelContract:
    return ModelContract(
        model_name=f"{name}-model",
        dataset=name,
        target="y",
        positive_label="1",
        features=list(features),
        threshold=0.5,
        risk_bands=[RiskBand(name="low", upper=0.3), RiskBand(name="high", upper=1.0)],
        reference={f.name: histogram(f) for f in features},
        score_reference=Histogram(
            kind="numeric", edges=[0.25, 0.5, 0.75], proportions=[0.25] * 4 + [0.0]
        ),
    )


def dataset_contract(dataset: str) -> ModelContract:
    return make_contract(load_config(dataset).features, dataset)


def numeric(name: str, **kw: object) -> FeatureSpec:
    return FeatureSpec(name=name, type=FeatureType.NUMERIC, **kw)  # type: ignore[arg-type]


def categorical(name: str, levels: list[str], **kw: object) -> FeatureSpec:
    return FeatureSpec(name=name, type=FeatureType.CATEGORICAL, levels=levels, **kw)  # type: ignore[arg-type]


@pytest.fixture
def default_contract() -> ModelContract:
    return dataset_contract("default")
