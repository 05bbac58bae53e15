from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from services.core.contract import (
    FeatureSpec,
    Histogram,
    ModelContract,
    RiskBand,
    compatibility_issues,
)
from services.core.psi import categorical_histogram, numeric_histogram

pytestmark = pytest.mark.unit


def make_contract(features: list[FeatureSpec] | None = None) -> ModelContract:
    features = features or [
        FeatureSpec(name="student", type="categorical", levels=["No", "Yes"]),
        FeatureSpec(name="balance", type="numeric", min=0, max=1e5),
        FeatureSpec(name="income", type="numeric", min=0, nullable=True),
    ]
    reference: dict[str, Histogram] = {
        f.name: categorical_histogram(np.array([0.0, 1.0]), f.levels or [])
        if f.is_categorical
        else numeric_histogram(np.arange(100.0))
        for f in features
    }
    return ModelContract(
        model_name="m",
        dataset="default",
        target="default",
        positive_label="Yes",
        features=features,
        threshold=0.3,
        risk_bands=[RiskBand(name="low", upper=0.15), RiskBand(name="high", upper=1.0)],
        reference=reference,
        score_reference=numeric_histogram(np.linspace(0, 1, 50)),
        metrics={"roc_auc": 0.95},
        data_fingerprint="sha256:abc",
    )


def test_round_trip_through_json(tmp_path: Path) -> None:
    contract = make_contract()
    loaded = ModelContract.load(contract.save(tmp_path / "contract.json"))
    assert loaded == contract
    assert loaded.feature("student").levels == ["No", "Yes"]


def test_categorical_needs_levels_and_numeric_refuses_them() -> None:
    with pytest.raises(ValidationError, match="needs levels"):
        FeatureSpec(name="x", type="categorical")
    with pytest.raises(ValidationError, match="cannot have levels"):
        FeatureSpec(name="x", type="numeric", levels=["a"])


def test_contract_refuses_missing_reference_and_bad_bands() -> None:
    contract = make_contract()
    with pytest.raises(ValidationError, match="no reference histogram"):
        ModelContract.model_validate(contract.model_dump() | {"reference": {}})
    with pytest.raises(ValidationError, match="risk bands"):
        ModelContract.model_validate(
            contract.model_dump() | {"risk_bands": [{"name": "a", "upper": 0.5}]}
        )


def test_histogram_checks_bin_count() -> None:
    with pytest.raises(ValidationError, match="proportions"):
        Histogram(kind="numeric", edges=[1.0], proportions=[1.0])


def test_same_contract_is_compatible() -> None:
    assert compatibility_issues(make_contract(), make_contract()) == []


def test_removed_retyped_and_new_required_features_are_incompatible() -> None:
    stable = make_contract()
    candidate = make_contract(
        [
            FeatureSpec(name="student", type="numeric"),
            FeatureSpec(name="income", type="numeric"),
            FeatureSpec(name="age", type="numeric"),
        ]
    )
    issues = compatibility_issues(stable, candidate)
    assert "feature 'balance' removed" in issues
    assert "feature 'student' retyped categorical -> numeric" in issues
    assert "new required feature 'age'" in issues


def test_new_optional_feature_is_compatible_but_lost_level_is_not() -> None:
    stable = make_contract()
    candidate = make_contract(
        [
            FeatureSpec(name="student", type="categorical", levels=["No"]),
            FeatureSpec(name="balance", type="numeric"),
            FeatureSpec(name="income", type="numeric"),
            FeatureSpec(name="age", type="numeric", nullable=True),
        ]
    )
    assert compatibility_issues(stable, candidate) == ["feature 'student' lost levels ['Yes']"]
