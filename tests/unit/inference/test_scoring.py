"""The data plane: plain applicant dicts in, plain answers out, metrics and drift fed.

A tiny booster trained here on two numeric features; no HTTP, no registry.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import xgboost as xgb

from services.core.model_store import LoadedModel
from services.inference.drift import DriftMonitor
from services.inference.metrics import InferenceMetrics
from services.inference.runtime import Served
from services.inference.schemas import build_schemas
from services.inference.scoring import Scorer, ScoringFailed
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
    answer = await Scorer(metrics).score_one(served, {"a": 1.0, "b": 1.0})
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
    rows = Scorer(metrics).score_many(served, records)
    assert len(rows) == 3
    assert rows[0]["probability"] > rows[1]["probability"]
    assert predictions_counted(metrics) == 3
    one = await Scorer(InferenceMetrics()).score_one(served_toy(), records[1])
    assert one["probability"] == pytest.approx(rows[1]["probability"])


async def test_declined_or_explained_applicants_get_reasons_from_their_contributions() -> None:
    served = served_toy()
    declined = await Scorer(InferenceMetrics()).score_one(served, {"a": 9.0, "b": 1.0})
    assert declined["prediction"] == 1
    assert [r["feature"] for r in declined["reasons"]] == ["a"]  # the only feature it split on
    assert declined["reasons"][0]["statement"] == "a is high"
    assert declined["reasons"][0]["value"] == 9.0
    rows = Scorer(InferenceMetrics()).score_many(
        served, [{"a": 9.0, "b": 1.0}, {"a": 1.0, "b": 1.0}], explain=True
    )
    assert rows[0]["reasons"] == declined["reasons"]
    assert rows[0]["probability"] == declined["probability"]  # explaining changes no score
    assert rows[1]["prediction"] == 0
    assert rows[1]["reasons"] == []
    off = await Scorer(InferenceMetrics(), reasons_top_k=0).score_one(served, {"a": 9.0, "b": 1.0})
    assert "reasons" not in off


async def test_concurrent_requests_are_explained_together_each_with_its_own_reasons() -> None:
    served, scorer = served_toy(), Scorer(InferenceMetrics())
    records = [{"a": a, "b": 1.0} for a in (9.0, 1.0, 8.5, 2.0, 9.5)]
    alone = [await scorer.score_one(served, r, explain=True) for r in records]
    assert scorer.batcher.flushes == 5
    together = await asyncio.gather(*(scorer.score_one(served, r, explain=True) for r in records))
    assert scorer.batcher.flushes == 6  # one TreeSHAP call for the five
    assert list(together) == alone
    other = served_toy()  # a reload between requests: each snapshot explains its own rows
    mixed = await asyncio.gather(
        scorer.score_one(served, records[0], True), scorer.score_one(other, records[0], True)
    )
    assert scorer.batcher.flushes == 8
    assert mixed[0]["reasons"] == alone[0]["reasons"]


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
    assert [type(r).__name__ for r in results] == ["ScoringFailed", "ScoringFailed", "dict"]


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
