"""Micro-batching: concurrent single-applicant scores share one prediction, bit-identical
to scoring each alone; a lone request is scored inline."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from services.inference.metrics import InferenceMetrics
from services.inference.scoring import Scorer, ScoringFailed
from tests.unit.inference.test_scoring import paired_toy, predictions_counted, served_toy

pytestmark = pytest.mark.unit


def applicants(n: int, seed: int = 3) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    rows = [{"a": float(a), "b": float(b)} for a, b in rng.uniform(0, 10, size=(n, 2))]
    for row in rows[::7]:
        row["b"] = None  # missing values batch too
    return rows


async def alone(scorer: Scorer, served: Any, record: dict[str, Any]) -> Any:
    """One applicant with nothing else in the loop turn: the inline path."""
    return await scorer.score_one(served, record)


async def test_a_lone_request_is_scored_inline_without_a_batch() -> None:
    scorer, served = Scorer(InferenceMetrics()), served_toy()
    answer, _ = await alone(scorer, served, {"a": 1.0, "b": 2.0})
    assert scorer.scores.flushes == 0
    assert set(answer) == {"prediction", "probability", "risk_band"}


async def test_concurrent_requests_share_one_prediction_with_bit_identical_answers() -> None:
    records = applicants(150)
    served, metrics = served_toy(), InferenceMetrics()
    scorer = Scorer(metrics, reasons_top_k=0)
    together = await asyncio.gather(*(scorer.score_one(served, r) for r in records))
    assert scorer.scores.flushes == 1
    assert scorer.scores.batched_rows == 150
    reference = Scorer(InferenceMetrics(), reasons_top_k=0)
    for record, (answer, _) in zip(records, together, strict=True):
        one, _ = await alone(reference, served_toy(), record)
        assert answer == one  # same probability bits, label and band
        assert type(answer["probability"]) is float
        assert type(answer["prediction"]) is int
    assert reference.scores.flushes == 0
    assert predictions_counted(metrics) == 150
    served.drift.flush()
    assert served.drift.reading().samples == 100  # the whole window (100 rows)


async def test_a_batch_holds_at_most_max_rows() -> None:
    scorer, served = Scorer(InferenceMetrics(), max_batch_rows=4), served_toy()
    await asyncio.gather(*(scorer.score_one(served, r) for r in applicants(10)))
    assert scorer.scores.flushes == 3


async def test_declined_applicants_in_a_batch_still_get_their_reasons() -> None:
    records = [{"a": 9.0, "b": 1.0}, {"a": 0.5, "b": 1.0}, {"a": 9.5, "b": None}]
    scorer, served = Scorer(InferenceMetrics()), served_toy()
    together = await asyncio.gather(*(scorer.score_one(served, r) for r in records))
    reference = Scorer(InferenceMetrics())
    for record, (answer, _) in zip(records, together, strict=True):
        assert answer == (await alone(reference, served_toy(), record))[0]
    assert "reasons" in together[0][0]
    assert "reasons" not in together[1][0]


async def test_rows_of_two_snapshots_are_scored_by_their_own_model() -> None:
    scorer, first, second = Scorer(InferenceMetrics()), served_toy(), served_toy()
    record = {"a": 2.0, "b": 2.0}
    await asyncio.gather(scorer.score_one(first, record), scorer.score_one(second, record))
    assert scorer.scores.flushes == 2


async def test_paired_baseline_answers_are_those_of_one_row_scoring() -> None:
    metrics = InferenceMetrics()
    served, scorer = paired_toy(metrics), Scorer(metrics)
    records = applicants(20)
    together = await asyncio.gather(*(scorer.score_one(served, r) for r in records))
    reference = Scorer(InferenceMetrics())
    for record, (answer, baseline) in zip(records, together, strict=True):
        one, base_one = await alone(reference, paired_toy(InferenceMetrics()), record)
        assert answer == one
        assert baseline == base_one


async def test_a_model_fault_fails_every_request_of_the_batch_as_scoring_failed() -> None:
    served = served_toy()
    broken = replace(served, model=replace(served.model, booster=None))  # type: ignore[arg-type]
    scorer = Scorer(InferenceMetrics())
    results = await asyncio.gather(
        *(scorer.score_one(broken, r) for r in applicants(3)), return_exceptions=True
    )
    assert all(isinstance(r, ScoringFailed) for r in results)
