from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from services.core.contract import (
    Calibration,
    FeatureSpec,
    Histogram,
    ModelContract,
    RiskBand,
    compatibility_issues,
)
from services.core.psi import categorical_histogram, numeric_histogram
from services.core.statements import ReasonStatements

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


def with_reasons(**reasons: dict[str, object]) -> ModelContract:
    """The default contract with some features' reason statements configured."""
    specs = make_contract().features
    return make_contract(
        [
            s.model_copy(update={"reason": ReasonStatements(**reasons[s.name])})
            if s.name in reasons
            else s
            for s in specs
        ]
    )


def test_generated_statements_equal_themselves_and_completing_them_changes_nothing() -> None:
    stable = make_contract()
    completed = make_contract([s.with_statements() for s in stable.features])
    assert completed.feature("student").reason == ReasonStatements(
        missing="student is missing",
        unseen="student has an unrecognised value",
        levels={"No": "student is No", "Yes": "student is Yes"},
    )
    assert compatibility_issues(stable, completed) == []
    assert compatibility_issues(completed, stable) == []


def test_changed_or_removed_reason_statement_is_a_breaking_change() -> None:
    stable = with_reasons(
        balance={"high": "Balance too high"}, student={"levels": {"Yes": "Is a student"}}
    )
    reworded = with_reasons(
        balance={"high": "Balance high"}, student={"levels": {"Yes": "Is a student"}}
    )
    assert compatibility_issues(stable, reworded) == [
        "feature 'balance' reason statement 'high' changed: 'Balance too high' -> 'Balance high'"
    ]
    removed = with_reasons(balance={"high": "Balance too high"})  # student's falls to default
    assert compatibility_issues(stable, removed) == [
        "feature 'student' reason statement 'level:Yes' changed: 'Is a student' -> 'student is Yes'"
    ]
    # a statement only the candidate adds (a new level, a new feature) breaks nothing
    added = make_contract(
        [
            FeatureSpec(name="student", type="categorical", levels=["No", "Yes", "Maybe"]),
            *make_contract().features[1:],
        ]
    )
    assert compatibility_issues(make_contract(), added) == []


def test_statements_of_a_lost_level_are_reported_as_the_lost_level() -> None:
    stable = with_reasons(student={"levels": {"Yes": "Is a student"}})
    candidate = make_contract(
        [
            FeatureSpec(name="student", type="categorical", levels=["No"]),
            *make_contract().features[1:],
        ]
    )
    assert compatibility_issues(stable, candidate) == ["feature 'student' lost levels ['Yes']"]


def test_statements_survive_the_json_round_trip(tmp_path: Path) -> None:
    contract = make_contract([s.with_statements() for s in make_contract().features])
    loaded = ModelContract.load(contract.save(tmp_path / "contract.json"))
    assert loaded.feature("balance").reason == ReasonStatements(
        high="balance is high", low="balance is low", missing="balance is missing"
    )


def test_a_lost_level_does_not_hide_a_reworded_statement_of_a_level_kept() -> None:
    candidate = make_contract(
        [
            FeatureSpec(
                name="student",
                type="categorical",
                levels=["Yes"],
                reason=ReasonStatements(levels={"Yes": "Student: yes"}),
            ),
            *make_contract().features[1:],
        ]
    )
    assert compatibility_issues(make_contract(), candidate) == [
        "feature 'student' lost levels ['No']",
        "feature 'student' reason statement 'level:Yes' changed: "
        "'student is Yes' -> 'Student: yes'",
    ]


def test_an_unknown_feature_is_named_in_the_error() -> None:
    with pytest.raises(KeyError, match="salary"):
        make_contract().feature("salary")


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def test_platt_calibration_scales_and_shifts_the_margin() -> None:
    margin = np.array([-3.0, -0.5, 0.0, 0.25, 2.0])
    calibrated = Calibration(method="platt", a=2.0, b=-0.5).apply(margin)
    np.testing.assert_allclose(calibrated, sigmoid(2.0 * margin - 0.5), rtol=0, atol=1e-15)
    assert calibrated.dtype == np.float64


def test_no_calibration_ignores_a_and_b() -> None:
    margin = np.array([-3.0, -0.5, 0.0, 0.25, 2.0], dtype=np.float32)
    calibrated = Calibration(method="none", a=2.0, b=-0.5).apply(margin)
    np.testing.assert_allclose(calibrated, sigmoid(margin.astype(np.float64)), atol=1e-15)
    assert calibrated.dtype == np.float64
