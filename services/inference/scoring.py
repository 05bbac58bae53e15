"""The data plane between the routes and the model runtime: encode → predict → observe.

Plain values in, plain values out: the routes parse and validate the HTTP body (against
the served snapshot's generated models) and hand over the applicants as dicts; this
encodes them straight into the float32 matrix the booster reads, scores them with one
``inplace_predict``, feeds the metrics (injected) and the snapshot's drift window from the
same arrays, and returns the answers as dicts. No web framework here (the layer contract
in ``pyproject.toml`` holds it); a model fault raises ``ScoringFailed`` (500), which the
one exception handler turns into the JSON error body.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from loguru import logger

from services.core.errors import ServiceError
from services.core.model_store import Predictions
from services.inference.metrics import InferenceMetrics
from services.inference.runtime import Served

Record = dict[str, Any]  # one applicant: feature name -> value, validated


class ScoringFailed(ServiceError):
    status_code, code = 500, "scoring_failed"


@dataclass(frozen=True)
class Scored:
    """Scores of a batch: the encoded rows (for drift) and the model's answers."""

    encoded: np.ndarray
    out: Predictions

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

    def __init__(self, metrics: InferenceMetrics) -> None:
        self.metrics = metrics

    def score_one(self, served: Served, record: Record) -> Record:
        """``{"prediction", "probability", "risk_band"}`` of one applicant."""
        scored = score_one(served, record)
        self.metrics.observe_score(served.labels, scored.prediction, scored.probability)
        served.drift.observe(scored.encoded, (scored.probability,))
        return scored.answer()

    def score_many(self, served: Served, records: list[Record]) -> list[Record]:
        """One answer per applicant, in order, from one vectorised prediction."""
        scored = score(served, records)
        self.metrics.observe_scores(served.labels, scored.out.label, scored.out.probability)
        served.drift.observe(scored.encoded, scored.out.probability)
        return scored.rows()


def score(served: Served, records: list[Record]) -> Scored:
    encoded = served.schemas.encoder.encode(records)
    with scoring_errors(len(records)):
        return Scored(encoded, served.model.predict(encoded))


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
