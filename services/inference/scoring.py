"""The data plane between the routes and the model runtime: encode → predict → observe.

Plain values in, plain values out: the routes parse and validate the HTTP body (against
the served snapshot's generated models) and hand over the applicants as dicts; this
encodes them straight into the float32 matrix the booster reads, scores them with one
``inplace_predict``, feeds the metrics (injected) and the snapshot's drift window from the
same arrays, and returns the answers as dicts. No web framework here (the layer contract
in ``pyproject.toml`` holds it); a model fault raises ``ScoringFailed`` (500), which the
one exception handler turns into the JSON error body.

Reason codes (``reasons``: the top ``k`` features that pushed the score toward default)
are added to an answer when the applicant is declined (prediction 1), or to every answer
when the caller asks (``explain``). Only those rows pay for TreeSHAP, from the rows'
already-encoded array, after the prediction. One applicant's reasons are computed
together with those of concurrent requests (``explainer.ReasonBatcher``: one DMatrix for
all); a bulk request's with one DMatrix that also scores them when ``explain`` asks for
every row (its margins are bit-identical to ``inplace_predict``'s, so explaining never
changes a score).

With a baseline paired (``paired.py``), the same encoded rows are scored once more by it,
for the paired metrics and the decision record (one extra prediction per request, bulk
rows together): ``Scorer`` returns the baseline's answers next to the client's, which
never include them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb
from loguru import logger

from services.core.decisions.record import BaselineAnswer
from services.core.errors import ServiceError
from services.core.model_store import Predictions
from services.core.reasons import DEFAULT_TOP_K
from services.inference.batching import MAX_ROWS, ScoreBatcher
from services.inference.explainer import ReasonBatcher, explain_rows
from services.inference.metrics import InferenceMetrics
from services.inference.paired import BaselineScores
from services.inference.runtime import Served

Record = dict[str, Any]  # one applicant: feature name -> value, validated


class ScoringFailed(ServiceError):
    status_code, code = 500, "scoring_failed"


@dataclass(frozen=True)
class Scored:
    """Scores of a batch: the encoded rows (for drift) and the model's answers."""

    encoded: np.ndarray
    out: Predictions
    matrix: xgb.DMatrix | None = None  # built when the rows are to be explained

    def rows(self) -> list[Record]:
        labels, proba, bands = self.out.label.tolist(), self.out.probability.tolist(), self.out.band
        return [
            {"prediction": lab, "probability": p, "risk_band": str(b)}
            for lab, p, b in zip(labels, proba, bands, strict=True)
        ]


@dataclass(frozen=True)
class ScoredOne:
    """The score of one applicant, as plain values (no per-request array work)."""

    encoded: np.ndarray
    probability: float
    prediction: int
    risk_band: str

    def answer(self) -> Record:
        return {
            "prediction": self.prediction,
            "probability": self.probability,
            "risk_band": self.risk_band,
        }


class Scorer:
    """Scores applicants with a served snapshot and records what it scored."""

    def __init__(
        self,
        metrics: InferenceMetrics,
        reasons_top_k: int = DEFAULT_TOP_K,
        max_batch_rows: int = MAX_ROWS,
    ) -> None:
        self.metrics = metrics
        self.k = reasons_top_k  # 0: no reason codes at all
        self.batcher = ReasonBatcher(reasons_top_k)
        self.scores = ScoreBatcher(metrics, max_batch_rows)  # concurrent rows, one call

    async def score_one(
        self, served: Served, record: Record, explain: bool = False
    ) -> tuple[Record, BaselineAnswer | None]:
        """``{"prediction", "probability", "risk_band"}`` of one applicant, and
        ``"reasons"`` if it is declined or ``explain`` asks for them (the only await:
        reasons join those of concurrent requests); and the baseline's answer when one is
        paired (None otherwise, or if it failed). Concurrent requests of one loop turn
        are scored together (``batching.ScoreBatcher``); a lone one at once."""
        if self.scores.should_batch(asyncio.get_running_loop()):
            encoded = served.schemas.encoder.encode([record])
            with scoring_errors(1):
                row = await self.scores.score(served, encoded)
            scored = ScoredOne(encoded, row.probability, row.prediction, row.risk_band)
            baseline = row.baseline
        else:
            scored, baseline = self._score_alone(served, record)
        answer = scored.answer()
        if self.k and (explain or scored.prediction == 1):
            with scoring_errors(1):
                answer["reasons"] = await self.batcher.explain(served, scored.encoded, record)
        return answer, baseline

    def _score_alone(
        self, served: Served, record: Record
    ) -> tuple[ScoredOne, BaselineAnswer | None]:
        scored = score_one(served, record)
        self.metrics.observe_score(served.labels, scored.prediction, scored.probability)
        served.drift.observe(scored.encoded, (scored.probability,))
        baseline = None
        if served.paired is not None:
            baseline = served.paired.observe_one(
                scored.encoded, scored.prediction, scored.probability, scored.risk_band
            )
        return scored, baseline

    def score_many(
        self, served: Served, records: list[Record], explain: bool = False
    ) -> tuple[list[Record], BaselineScores | None]:
        """One answer per applicant, in order, from one vectorised prediction; reasons on
        the declined ones (every one with ``explain``), from one TreeSHAP call; and the
        baseline's answers when one is paired (None otherwise, or if it failed)."""
        explain = explain and self.k > 0
        scored = score(served, records, explain)
        self.metrics.observe_scores(served.labels, scored.out.label, scored.out.probability)
        served.drift.observe(scored.encoded, scored.out.probability)
        baseline = None
        if served.paired is not None:
            baseline = served.paired.observe_many(
                scored.encoded, scored.out.label, scored.out.probability
            )
        rows = scored.rows()
        if scored.matrix is not None:
            with scoring_errors(len(rows)):
                reasons = explain_rows(served, scored.matrix, records, self.k)
            for row, found in zip(rows, reasons, strict=True):
                row["reasons"] = found
        elif self.k:
            pick = np.flatnonzero(scored.out.label == 1)
            if pick.size:
                chosen = [records[i] for i in pick.tolist()]
                with scoring_errors(len(chosen)):
                    reasons = explain_rows(served, scored.encoded[pick], chosen, self.k)
                for i, found in zip(pick.tolist(), reasons, strict=True):
                    rows[i]["reasons"] = found
        return rows, baseline


def score(served: Served, records: list[Record], matrix: bool = False) -> Scored:
    """Encode and predict; ``matrix``: through a DMatrix kept for explaining the rows."""
    encoded = served.schemas.encoder.encode(records)
    with scoring_errors(len(records)):
        if not matrix:
            return Scored(encoded, served.model.predict(encoded))
        data = served.model.matrix(encoded)
        return Scored(encoded, served.model.predict(data), data)


def score_one(served: Served, record: Record) -> ScoredOne:
    encoded = served.schemas.encoder.encode([record])
    with scoring_errors(1):
        return ScoredOne(encoded, *served.model.predict_one(encoded))


@contextmanager
def scoring_errors(rows: int) -> Iterator[None]:
    """A model fault is ours, never the client's: log it, answer 500 ``scoring_failed``."""
    try:
        yield
    except Exception as exc:
        logger.opt(exception=exc).error("prediction failed for {} rows", rows)
        raise ScoringFailed("the model could not score this request") from exc
