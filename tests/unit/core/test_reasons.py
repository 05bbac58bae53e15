"""Reason codes: XGBoost's TreeSHAP against Shapley values by enumeration, top-k picking,
statements per direction, and the vectorised columns agreeing with the one-row path."""

from __future__ import annotations

from itertools import combinations
from math import factorial

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from services.core.contract import FeatureSpec
from services.core.reasons import (
    NO_REASON,
    Reason,
    Statements,
    median,
    top_reason_columns,
    top_reasons,
)
from services.core.statements import ReasonStatements
from tests.unit.inference.conftest import categorical, make_contract, numeric

pytestmark = pytest.mark.unit


# --- the brute-force reference -------------------------------------------------------


def tiny_booster(n_features: int, seed: int = 0) -> tuple[xgb.Booster, np.ndarray]:
    """A small real booster (depth 3, interactions) on float32-exact data."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=(400, n_features)) * 8) / 8  # multiples of 1/8: exact
    logit = x[:, 0] - 0.7 * x[:, 1] + 0.5 * x[:, 0] * x[:, -1]
    y = (logit + rng.normal(scale=0.5, size=400) > 0).astype(int)
    params = {"max_depth": 3, "eta": 0.3, "objective": "binary:logistic", "nthread": 1}
    booster = xgb.train(params, xgb.DMatrix(x.astype(np.float32), label=y), num_boost_round=8)
    return booster, x.astype(np.float32)


def expected_value(tree: pd.DataFrame, node: str, x: np.ndarray, known: frozenset[int]) -> float:
    """E[tree(x) | x_S] the way TreeSHAP defines it: follow x where the split feature is in
    S, otherwise average both children weighted by their training cover."""
    row = tree.loc[node]
    if row.Feature == "Leaf":
        return float(row.Gain)
    j = int(str(row.Feature)[1:])
    if j in known:
        return expected_value(tree, row.Yes if x[j] < np.float32(row.Split) else row.No, x, known)
    yes, no = tree.loc[row.Yes], tree.loc[row.No]
    return (
        yes.Cover * expected_value(tree, row.Yes, x, known)
        + no.Cover * expected_value(tree, row.No, x, known)
    ) / row.Cover


def brute_force_shapley(booster: xgb.Booster, x: np.ndarray) -> np.ndarray:
    frame = booster.trees_to_dataframe().set_index("ID")
    trees = [frame[frame.Tree == t] for t in sorted(frame.Tree.unique())]
    n = x.size

    def value(known: frozenset[int]) -> float:
        return sum(expected_value(tree, f"{t}-0", x, known) for t, tree in enumerate(trees))

    phi = np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for size in range(n):
            weight = factorial(size) * factorial(n - size - 1) / factorial(n)
            for subset in combinations(others, size):
                s = frozenset(subset)
                phi[i] += weight * (value(s | {i}) - value(s))
    return phi


@pytest.mark.parametrize("n_features", [2, 3, 4])
def test_tree_shap_matches_shapley_values_by_enumeration(n_features: int) -> None:
    booster, x = tiny_booster(n_features, seed=n_features)
    rows = x[:6]
    contribs = booster.predict(xgb.DMatrix(rows), pred_contribs=True)
    margins = booster.predict(xgb.DMatrix(rows), output_margin=True)
    for row, got, margin in zip(rows, contribs, margins, strict=True):
        expected = brute_force_shapley(booster, row)
        np.testing.assert_allclose(got[:-1], expected, atol=1e-5)
        assert got.sum() == pytest.approx(margin, abs=1e-5)  # + bias = margin


# --- picking and wording -------------------------------------------------------------


def contract_with_reasons() -> Statements:
    features = [
        categorical(
            "student",
            ["No", "Yes"],
            reason=ReasonStatements(levels={"Yes": "Applicant is a student"}),
        ),
        numeric("balance", min=0, max=100, reason=ReasonStatements(high="Balance too high")),
        numeric("income", min=0, max=100, nullable=True),
    ]
    return Statements(make_contract(features))  # reference edges 25/50/75: median 50


def test_top_reasons_are_positive_contributions_largest_first_with_statements() -> None:
    statements = contract_with_reasons()
    reasons = top_reasons([0.2, 0.9, 0.4, -1.0], ["Yes", 80.0, None], statements)
    assert reasons == [
        Reason("balance", 80.0, 0.9, "Balance too high"),
        Reason("income", None, pytest.approx(0.4), "income is missing"),
        Reason("student", "Yes", pytest.approx(0.2), "Applicant is a student"),
    ]
    assert reasons[0].to_dict() == {
        "feature": "balance",
        "value": 80.0,
        "contribution": 0.9,
        "statement": "Balance too high",
    }


def test_top_reasons_leave_out_features_that_lowered_the_score_and_cut_at_k() -> None:
    statements = contract_with_reasons()
    assert top_reasons([-0.1, 0.0, -0.3, 2.0], ["No", 10, 5], statements) == []
    reasons = top_reasons([0.3, 0.3, 0.1, 0.0], ["No", 10, 5], statements, k=2)
    assert [(r.feature, r.statement) for r in reasons] == [
        ("student", "student is No"),  # a tie keeps feature order
        ("balance", "balance is low"),
    ]
    assert top_reasons([0.3, 0.3, 0.1, 0.0], ["No", 10, 5], statements, k=0) == []


def test_median_of_a_reference_histogram() -> None:
    contract = make_contract([numeric("a", min=0, max=100)])
    assert median(contract.reference["a"]) == 50.0


def test_vectorised_columns_agree_with_the_one_row_path() -> None:
    statements = contract_with_reasons()
    rng = np.random.default_rng(1)
    values = [
        [rng.choice(["No", "Yes"]), float(rng.integers(0, 100)), None if i % 3 else 40.0]
        for i in range(50)
    ]
    encoded = np.array(
        [[0.0 if s == "No" else 1.0, b, np.nan if v is None else v] for s, b, v in values],
        dtype=np.float32,
    )
    contribs = rng.normal(size=(50, 4))
    columns = top_reason_columns(contribs, encoded, statements, k=4)
    assert columns.feature.shape == (50, 4)  # k beyond the feature count: padded
    for i, row in enumerate(values):
        expected = top_reasons(contribs[i], row, statements, k=4)
        got = [
            (statements.names[f], c, statements.texts[s])
            for f, c, s in zip(
                columns.feature[i], columns.contribution[i], columns.statement[i], strict=True
            )
            if f != NO_REASON
        ]
        assert got == [(r.feature, pytest.approx(r.contribution), r.statement) for r in expected]


def test_unseen_level_has_its_statement() -> None:
    statements = contract_with_reasons()
    assert statements.texts[statements.code(0, "Maybe")] == "student has an unrecognised value"
    codes = statements.codes(np.array([[-1.0, 1.0, 1.0]], dtype=np.float32))
    assert statements.texts[codes[0, 0]] == "student has an unrecognised value"


def test_spec_rejects_statements_that_do_not_fit_the_feature() -> None:
    with pytest.raises(ValueError, match="unknown levels"):
        FeatureSpec.model_validate(
            {"name": "s", "type": "categorical", "levels": ["a"], "reason": {"levels": {"b": "x"}}}
        )
    with pytest.raises(ValueError, match="high/low"):
        FeatureSpec.model_validate(
            {"name": "s", "type": "categorical", "levels": ["a"], "reason": {"high": "x"}}
        )
    with pytest.raises(ValueError, match="levels/level/unseen"):
        FeatureSpec.model_validate({"name": "n", "type": "numeric", "reason": {"level": "x"}})
    with pytest.raises(ValueError, match="needs"):
        FeatureSpec.model_validate(
            {"name": "s", "type": "categorical", "levels": ["a"], "reason": {"level": "bad"}}
        )
