"""Paired scoring: the baseline's columns, the pair tallies, and one row vs a batch."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb
from prometheus_client.parser import text_string_to_metric_families

from services.core import telemetry as t
from services.core.contract import ModelContract
from services.core.model_store import LoadedModel
from services.inference.metrics import InferenceMetrics
from services.inference.paired import (
    Columns,
    PairedScorer,
    band_pairs,
    baseline_columns,
    decision_pairs,
)
from services.inference.settings import InferenceSettings
from tests.unit.inference.conftest import categorical, make_contract, numeric

pytestmark = pytest.mark.unit

SERVED = ("m", "2", "canary")
PAIR = (*SERVED, "1")
A, B = numeric("a"), numeric("b")
COLOUR = categorical("colour", ["red", "blue"])


def test_identical_features_read_the_same_row() -> None:
    columns = baseline_columns(make_contract([A, COLOUR]), make_contract([A, COLOUR]))
    assert columns.ok
    assert columns.index is None


def test_a_served_feature_the_baseline_lacks_is_skipped() -> None:
    served = make_contract([A, numeric("new", nullable=True), COLOUR])
    columns = baseline_columns(served, make_contract([A, COLOUR]))
    assert columns.ok
    assert columns.index is not None
    assert columns.index.tolist() == [0, 2]


def test_a_different_column_order_is_mapped() -> None:
    columns = baseline_columns(make_contract([A, B]), make_contract([B, A]))
    assert columns.index is not None
    assert columns.index.tolist() == [1, 0]


@pytest.mark.parametrize(
    ("baseline", "issue"),
    [
        ([A, numeric("gone")], "'gone' is not a feature of the served model"),
        ([A, categorical("b", ["x"])], "'b' is categorical in the baseline, numeric"),
        ([A, categorical("colour", ["blue", "red"])], "'colour' has other levels"),
        ([A, categorical("colour", ["red"])], "'colour' has other levels"),
    ],
)
def test_features_that_encode_differently_are_refused(baseline: list, issue: str) -> None:
    columns = baseline_columns(make_contract([A, B, COLOUR]), make_contract(baseline))
    assert not columns.ok
    assert columns.index is None
    assert any(issue in text for text in columns.issues), columns.issues


def test_decision_pairs_count_baseline_by_served() -> None:
    served = np.array([1, 1, 0, 0, 0, 1], dtype=np.int8)
    base = np.array([1, 0, 0, 1, 0, 1], dtype=bool)
    # pairs (baseline, served): (1,1) (0,1) (0,0) (1,0) (0,0) (1,1)
    assert decision_pairs(served, base).tolist() == [[2, 1], [1, 2]]


def test_band_pairs_is_the_migration_matrix() -> None:
    codes = np.array([0, 2, 2, 1], dtype=np.int8)
    base = np.array([0, 1, 1, 0], dtype=np.int8)
    assert band_pairs(codes, base, 3, 2).tolist() == [[1, 1, 0], [0, 0, 2]]


def model(version: str, contract: ModelContract, depth: int, seed: int) -> LoadedModel:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 2)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(scale=0.8, size=400) > 0).astype(int)
    booster = xgb.train(
        {"max_depth": depth, "objective": "binary:logistic", "nthread": 1},
        xgb.DMatrix(x, y),
        num_boost_round=5 * depth,
    )
    return LoadedModel(f"models:/m/{version}", "m", version, contract, booster)


def paired_scorer(metrics: InferenceMetrics, columns: Columns | None = None) -> PairedScorer:
    contract = make_contract([A, B])
    served, baseline = model("2", contract, 4, 1), model("1", contract, 1, 2)
    names = [b.name for b in contract.risk_bands]
    series = metrics.paired(PAIR, names, names)
    return PairedScorer(served, baseline, columns or Columns(None), series)


def exported(metrics: InferenceMetrics) -> dict[tuple[str, tuple], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): round(s.value, 6)
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if not s.name.endswith("_created")
    }


def test_one_row_at_a_time_and_one_batch_count_the_same() -> None:
    rows = np.random.default_rng(3).normal(size=(300, 2)).astype(np.float32)
    one, many = InferenceMetrics(), InferenceMetrics()
    single, bulk = paired_scorer(one), paired_scorer(many)
    for i in range(len(rows)):
        probability, label, band = single.served.predict_one(rows[i : i + 1])
        single.observe_one(rows[i : i + 1], label, probability, band)
    out = bulk.served.predict(rows)
    bulk.observe_many(rows, out.label, out.probability)
    assert exported(one) == exported(many)

    # and the counts are the pairs of the two models' own predictions
    served, base = out, bulk.baseline.predict(rows)
    flips = int(np.count_nonzero(served.label != base.label))
    assert flips > 0  # the two models disagree on some applicants
    counts = exported(many)

    def decisions(baseline_outcome: str, outcome: str) -> float:
        labels = dict(
            zip(t.MODEL_LABELS, SERVED, strict=True),
            baseline_version="1",
            baseline_outcome=baseline_outcome,
            outcome=outcome,
        )
        return counts[(t.total(t.PAIRED_DECISIONS), tuple(sorted(labels.items())))]

    flipped = decisions(t.DEFAULT_OUTCOME, t.NO_DEFAULT_OUTCOME) + decisions(
        t.NO_DEFAULT_OUTCOME, t.DEFAULT_OUTCOME
    )
    assert flipped == flips
    diff_count = [v for (n, _), v in counts.items() if n == f"{t.PAIRED_SCORE_DIFF}_count"]
    assert diff_count == [len(rows)]
    diff_sum = [v for (n, _), v in counts.items() if n == f"{t.PAIRED_SCORE_DIFF}_sum"]
    expected = float(np.abs(served.probability - base.probability).sum())
    assert diff_sum[0] == pytest.approx(expected, rel=1e-5)


def test_the_baselines_answers_are_its_own_predictions_one_row_or_a_batch() -> None:
    rows = np.random.default_rng(4).normal(size=(50, 2)).astype(np.float32)
    scorer = paired_scorer(InferenceMetrics())
    out = scorer.served.predict(rows)
    many = scorer.observe_many(rows, out.label, out.probability)
    assert many is not None
    answers = many.answers()
    base = scorer.baseline.predict(rows)
    assert [a.version for a in answers] == ["1"] * len(rows)
    assert [a.probability for a in answers] == base.probability.tolist()
    assert [a.prediction for a in answers] == base.label.tolist()
    assert [a.band for a in answers] == base.band.tolist()
    assert all(type(a.prediction) is int for a in answers)
    for i, expected in enumerate(answers):
        probability, label, band = scorer.served.predict_one(rows[i : i + 1])
        one = scorer.observe_one(rows[i : i + 1], label, probability, band)
        assert one is not None
        assert (one.version, one.prediction, one.band) == (
            expected.version,
            expected.prediction,
            expected.band,
        )
        assert one.probability == pytest.approx(expected.probability, abs=1e-7)


def test_a_failing_baseline_counts_nothing_and_raises_nothing() -> None:
    metrics = InferenceMetrics()
    scorer = paired_scorer(metrics, Columns(np.asarray([0, 5])))  # column 5 does not exist
    rows = np.zeros((3, 2), dtype=np.float32)
    out = scorer.served.predict(rows)
    assert scorer.observe_many(rows, out.label, out.probability) is None  # no answer kept
    assert scorer.observe_one(rows[:1], 0, 0.1, "low") is None
    counts = exported(metrics)
    assert sum(v for (n, _), v in counts.items() if n == t.total(t.PAIRED_DECISIONS)) == 0
    assert not [n for n, _ in counts if n.startswith(t.PAIRED_SCORE_DIFF)]


def test_the_baseline_status_keeps_one_series() -> None:
    metrics = InferenceMetrics()
    metrics.baseline_status(("m", "1", "canary"), "models:/m/1", paired=False)
    metrics.baseline_status(SERVED, "models:/m/1", paired=True)
    found = {k: v for k, v in exported(metrics).items() if k[0] == t.BASELINE_LOADED}
    assert list(found.values()) == [1.0]
    assert ("model_version", "2") in next(iter(found))[1]


def test_the_baseline_setting_and_its_rate_limit_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert InferenceSettings().baseline_model_uri == ""
    assert InferenceSettings().rate_limit_prefix == "inference"
    monkeypatch.setenv("BASELINE_MODEL_URI", "models:/m/1")
    assert InferenceSettings().baseline_model_uri == "models:/m/1"
    monkeypatch.setenv("INFERENCE_BASELINE_MODEL_URI", "models:/m/3")
    settings = InferenceSettings()
    assert settings.baseline_model_uri == "models:/m/3"  # the prefixed name wins
    assert settings.rate_limit_prefix == "inference-paired"
