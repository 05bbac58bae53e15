"""The data plane: plain applicant dicts in, plain answers out, metrics and drift fed.

A tiny booster trained here on two numeric features; no HTTP, no registry.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import numpy as np
import pytest
import xgboost as xgb

from services.core.model_store import LoadedModel, Predictions
from services.core.telemetry import OUTCOME_LABEL
from services.inference.drift import DriftMonitor
from services.inference.metrics import InferenceMetrics
from services.inference.paired import Columns, PairedScorer
from services.inference.recording import online_decisions
from services.inference.runtime import Served
from services.inference.schemas import build_schemas
from services.inference.scoring import Scored, Scorer, ScoringFailed, score
from tests.support.logs import messages_logged
from tests.unit.inference.conftest import make_contract, numeric

pytestmark = pytest.mark.unit

LABELS = ("toy-model", "1", "stable")


def served_toy(booster: xgb.Booster | None = None) -> Served:
    contract = make_contract([numeric("a", min=0.0, max=10.0), numeric("b")])
    if booster is None:
        rng = np.random.default_rng(7)
        x = rng.uniform(0, 10, size=(200, 2)).astype(np.float32)
        data = xgb.DMatrix(x, label=(x[:, 0] > 5).astype(int), feature_names=["a", "b"])
        booster = xgb.train({"objective": "binary:logistic", "nthread": 1}, data, 3)
    model = LoadedModel("toy", "toy-model", "1", contract, booster)
    drift = DriftMonitor(contract, window=100, threshold=0.2, min_samples=10, flush_rows=1)
    return Served(model, build_schemas(contract, 10), drift, LABELS)


def predictions_counted(metrics: InferenceMetrics) -> float:
    total = 0.0
    for family in metrics.registry.collect():
        if family.name == "inference_predictions":
            total += sum(s.value for s in family.samples if s.name.endswith("_total"))
    return total


async def test_one_applicant_is_plain_values_and_is_recorded() -> None:
    metrics, served = InferenceMetrics(), served_toy()
    answer, baseline = await Scorer(metrics).score_one(served, {"a": 1.0, "b": 1.0})
    assert baseline is None  # no baseline paired
    assert set(answer) == {"prediction", "probability", "risk_band"}  # accepted: no reasons
    assert isinstance(answer["probability"], float)
    assert answer["prediction"] in (0, 1)
    assert answer["risk_band"] in ("low", "high")
    assert predictions_counted(metrics) == 1
    served.drift.flush()
    assert served.drift.reading().samples == 1


async def test_many_applicants_keep_their_order() -> None:
    metrics, served = InferenceMetrics(), served_toy()
    records = [{"a": 9.5, "b": 0.0}, {"a": 0.5, "b": 0.0}, {"a": 9.5, "b": None}]
    rows, baseline = Scorer(metrics).score_many(served, records)
    assert baseline is None
    assert len(rows) == 3
    assert rows[0]["probability"] > rows[1]["probability"]
    assert predictions_counted(metrics) == 3
    one, _ = await Scorer(InferenceMetrics()).score_one(served_toy(), records[1])
    assert one["probability"] == pytest.approx(rows[1]["probability"])


async def test_declined_or_explained_applicants_get_reasons_from_their_contributions() -> None:
    served = served_toy()
    declined, _ = await Scorer(InferenceMetrics()).score_one(served, {"a": 9.0, "b": 1.0})
    assert declined["prediction"] == 1
    assert [r["feature"] for r in declined["reasons"]] == ["a"]  # the only feature it split on
    assert declined["reasons"][0]["statement"] == "a is high"
    assert declined["reasons"][0]["value"] == 9.0
    rows, _ = Scorer(InferenceMetrics()).score_many(
        served, [{"a": 9.0, "b": 1.0}, {"a": 1.0, "b": 1.0}], explain=True
    )
    assert rows[0]["reasons"] == declined["reasons"]
    assert rows[0]["probability"] == declined["probability"]  # explaining changes no score
    assert rows[1]["prediction"] == 0
    assert rows[1]["reasons"] == []
    scorer = Scorer(InferenceMetrics(), reasons_top_k=0)
    off, _ = await scorer.score_one(served, {"a": 9.0, "b": 1.0})
    assert "reasons" not in off


async def test_concurrent_requests_are_explained_together_each_with_its_own_reasons() -> None:
    served, scorer = served_toy(), Scorer(InferenceMetrics())
    records = [{"a": a, "b": 1.0} for a in (9.0, 1.0, 8.5, 2.0, 9.5)]
    alone = [(await scorer.score_one(served, r, explain=True))[0] for r in records]
    assert scorer.batcher.flushes == 5
    together = await asyncio.gather(*(scorer.score_one(served, r, explain=True) for r in records))
    assert scorer.batcher.flushes == 6  # one TreeSHAP call for the five
    assert [answer for answer, _ in together] == alone
    other = served_toy()  # a reload between requests: each snapshot explains its own rows
    mixed = await asyncio.gather(
        scorer.score_one(served, records[0], True), scorer.score_one(other, records[0], True)
    )
    assert scorer.batcher.flushes == 8
    assert mixed[0][0]["reasons"] == alone[0]["reasons"]


def paired_toy(metrics: InferenceMetrics) -> Served:
    """``served_toy`` paired with a baseline v0 (a shallower booster on the same rows)."""
    served = served_toy()
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 10, size=(200, 2)).astype(np.float32)
    data = xgb.DMatrix(x, label=(x[:, 0] > 4).astype(int), feature_names=["a", "b"])
    booster = xgb.train({"objective": "binary:logistic", "nthread": 1, "max_depth": 1}, data, 2)
    contract = served.model.contract
    baseline = LoadedModel("toy0", "toy-model", "0", contract, booster)
    bands = [b.name for b in contract.risk_bands]
    series = metrics.paired((*LABELS, "0"), bands, bands)
    return replace(served, paired=PairedScorer(served.model, baseline, Columns(None), series))


async def test_a_paired_snapshot_hands_the_baselines_answers_to_the_record() -> None:
    metrics = InferenceMetrics()
    served, scorer = paired_toy(metrics), Scorer(metrics)
    assert served.paired is not None
    records = [{"a": a, "b": 1.0} for a in (0.5, 4.5, 9.0)]
    expected = served.paired.baseline.predict(served.schemas.encoder.encode(records))
    rows, many = scorer.score_many(served, records)
    assert many is not None
    decisions = online_decisions(served, "r1", "k", records, rows, baselines=many.answers())
    singles = []
    for record in records:
        answer, one = await scorer.score_one(served, record)
        assert one is not None
        singles.append(one)
        assert "baseline" not in answer  # the client sees the served model's answer only
    assert all("baseline" not in row for row in rows)
    for i, decision in enumerate(decisions):
        recorded = decision.baseline
        assert recorded is not None
        assert recorded.version == singles[i].version == "0"
        assert recorded.probability == pytest.approx(float(expected.probability[i]))
        assert recorded.prediction == singles[i].prediction == int(expected.label[i])
        assert recorded.band == singles[i].band == str(expected.band[i])
        assert decision.probability == rows[i]["probability"]  # the served model's
    unpaired = online_decisions(served_toy(), "r2", "k", records, rows)
    assert [d.baseline for d in unpaired] == [None] * 3


class ContribsBroken(xgb.Booster):
    def predict(self, *args: object, **kwargs: object) -> np.ndarray:
        raise RuntimeError("corrupt booster")


async def test_a_treeshap_fault_is_a_500_for_every_waiting_request() -> None:
    good = served_toy()
    broken = served_toy(ContribsBroken(model_file=bytearray(good.model.booster.save_raw())))
    scorer = Scorer(InferenceMetrics())
    results = await asyncio.gather(
        scorer.score_one(broken, {"a": 9.0, "b": 1.0}, True),
        scorer.score_one(broken, {"a": 1.0, "b": 1.0}, True),
        scorer.score_one(good, {"a": 9.0, "b": 1.0}, True),
        return_exceptions=True,
    )
    assert [type(r).__name__ for r in results] == ["ScoringFailed", "ScoringFailed", "tuple"]


class OnlyContribsBroken(xgb.Booster):
    """Scores, but its TreeSHAP fails: the fault comes after the prediction."""

    def predict(self, *args: object, **kwargs: object) -> np.ndarray:
        if kwargs.get("pred_contribs"):
            raise RuntimeError("corrupt booster")
        return super().predict(*args, **kwargs)  # type: ignore[arg-type]


class BrokenBooster(xgb.Booster):
    def inplace_predict(self, *args: object, **kwargs: object) -> np.ndarray:
        raise RuntimeError("corrupt booster")


def test_a_model_fault_is_a_500_and_nothing_is_recorded() -> None:
    metrics = InferenceMetrics()
    served = served_toy(BrokenBooster())
    with pytest.raises(ScoringFailed) as caught:
        Scorer(metrics).score_many(served, [{"a": 1.0, "b": 1.0}])
    assert caught.value.status_code == 500
    assert predictions_counted(metrics) == 0


def test_many_applicants_reasons_go_to_the_declined_unless_all_are_explained() -> None:
    served = served_toy()
    records = [{"a": 9.0, "b": 1.0}, {"a": 1.0, "b": 1.0}]  # declined, approved
    rows, _ = Scorer(InferenceMetrics()).score_many(served, records)  # explain: off
    assert [r["prediction"] for r in rows] == [1, 0]
    assert [r["feature"] for r in rows[0]["reasons"]] == ["a"]
    assert "reasons" not in rows[1]  # an approved applicant is not explained
    top1, _ = Scorer(InferenceMetrics(), reasons_top_k=1).score_many(served, records, True)
    assert [r["feature"] for r in top1[0]["reasons"]] == ["a"]
    assert top1[1]["reasons"] == []  # explained: every applicant, approved ones too
    off = Scorer(InferenceMetrics(), reasons_top_k=0)
    for explain in (False, True):
        none, _ = off.score_many(served, records, explain)
        assert all("reasons" not in r for r in none)


def outcomes_counted(metrics: InferenceMetrics) -> dict[str, float]:
    """Applicants counted per predicted outcome (``default`` / ``no_default``)."""
    counted: dict[str, float] = {}
    for family in metrics.registry.collect():
        if family.name == "inference_predictions":
            for s in family.samples:
                if s.name.endswith("_total"):
                    outcome = s.labels[OUTCOME_LABEL]
                    counted[outcome] = counted.get(outcome, 0.0) + s.value
    return counted


async def test_a_lone_applicant_is_counted_under_its_predicted_outcome() -> None:
    metrics, served = InferenceMetrics(), served_toy()
    scorer = Scorer(metrics)
    declined, _ = await scorer.score_one(served, {"a": 9.0, "b": 1.0})
    accepted, _ = await scorer.score_one(served, {"a": 1.0, "b": 1.0})
    assert (declined["prediction"], accepted["prediction"]) == (1, 0)
    assert outcomes_counted(metrics) == {"default": 1.0, "no_default": 1.0}


async def test_many_applicants_answer_the_same_risk_band_as_one() -> None:
    served, scorer = served_toy(), Scorer(InferenceMetrics())
    records = [{"a": 9.0, "b": 1.0}, {"a": 1.0, "b": 1.0}]
    rows, _ = scorer.score_many(served, records)
    singles = [(await scorer.score_one(served, r))[0]["risk_band"] for r in records]
    assert [row["risk_band"] for row in rows] == singles
    assert set(singles) <= {b.name for b in served.model.contract.risk_bands}


def test_answers_need_one_label_probability_and_band_per_row() -> None:
    """Rows are never silently dropped: predictions of unequal lengths are an error."""
    enc = np.zeros((2, 2), dtype=np.float32)
    whole = Predictions(np.array([0.1, 0.9]), np.array([0, 1]), np.array(["low", "high"]))
    assert [r["risk_band"] for r in Scored(enc, whole).rows()] == ["low", "high"]
    for short in (
        replace(whole, probability=whole.probability[:1]),
        replace(whole, label=whole.label[:1]),
        replace(whole, band=whole.band[:1]),
    ):
        with pytest.raises(ValueError, match="zip"):
            Scored(enc, short).rows()


def test_scoring_builds_no_matrix_unless_asked() -> None:
    served, records = served_toy(), [{"a": 9.0, "b": 1.0}]
    assert score(served, records).matrix is None
    assert score(served, records, matrix=True).matrix is not None


async def test_a_model_fault_logs_how_many_applicants_it_failed() -> None:
    broken = served_toy(BrokenBooster())
    records = [{"a": 1.0, "b": 1.0}, {"a": 2.0, "b": 1.0}, {"a": 3.0, "b": 1.0}]
    scorer = Scorer(InferenceMetrics())
    with messages_logged("ERROR") as messages, pytest.raises(ScoringFailed):
        scorer.score_many(broken, records)
    assert messages == ["prediction failed for 3 rows"]
    with messages_logged("ERROR") as messages, pytest.raises(ScoringFailed):
        await scorer.score_one(broken, records[0])  # alone
    assert messages == ["prediction failed for 1 rows"]
    with messages_logged("ERROR") as messages:
        together = await asyncio.gather(
            *(scorer.score_one(broken, r) for r in records), return_exceptions=True
        )
    assert [type(r) for r in together] == [ScoringFailed] * 3
    assert messages
    assert set(messages) == {"prediction failed for 1 rows"}


async def test_a_treeshap_fault_logs_how_many_applicants_it_failed() -> None:
    good = served_toy()
    raw = bytearray(good.model.booster.save_raw())
    broken = served_toy(OnlyContribsBroken(model_file=raw))
    records = [{"a": 9.0, "b": 1.0}, {"a": 1.0, "b": 1.0}, {"a": 8.0, "b": 1.0}]
    scorer = Scorer(InferenceMetrics())
    with messages_logged("ERROR") as messages, pytest.raises(ScoringFailed):
        scorer.score_many(broken, records, explain=True)  # every row explained
    assert messages == ["prediction failed for 3 rows"]
    with messages_logged("ERROR") as messages, pytest.raises(ScoringFailed):
        scorer.score_many(broken, records)  # the two declined ones only
    assert messages == ["prediction failed for 2 rows"]
    with messages_logged("ERROR") as messages, pytest.raises(ScoringFailed):
        await scorer.score_one(broken, records[0], explain=True)
    assert messages[-1] == "prediction failed for 1 rows"  # after the batcher's own line
