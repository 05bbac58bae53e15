"""The data plane between routes and the model runtime: parse → encode → predict → observe.

Bodies are parsed and validated in one pass by pydantic-core's JSON parser against the
served snapshot's generated models (no DataFrame, no stdlib ``json`` round trip), encoded
straight into the float32 matrix the booster reads, and scored with one
``inplace_predict``. Metrics and the drift window are fed from the same arrays.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import Request
from loguru import logger

from services.core.model_store import Predictions
from services.core.web.errors import ServiceError
from services.inference.metrics import InferenceMetrics
from services.inference.runtime import Served


class ScoringFailed(ServiceError):
    status_code, code = 500, "scoring_failed"


@dataclass(frozen=True)
class Scored:
    """Scores of a batch: the encoded rows (for drift) and the model's answers."""

    encoded: np.ndarray
    out: Predictions

    def rows(self) -> list[dict[str, Any]]:
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

    def answer(self) -> dict[str, Any]:
        return {
            "prediction": self.prediction,
            "probability": self.probability,
            "risk_band": self.risk_band,
        }


def score(served: Served, records: list[dict[str, Any]]) -> Scored:
    encoded = served.schemas.encoder.encode(records)
    with scoring_errors(len(records)):
        return Scored(encoded, served.model.predict(encoded))


def score_one(served: Served, record: dict[str, Any]) -> ScoredOne:
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


def observe(served: Served, scored: Scored, request: Request) -> None:
    request.state.model_labels = served.labels
    metrics: InferenceMetrics = request.app.state.metrics
    metrics.observe_scores(served.labels, scored.out.label, scored.out.probability)
    served.drift.observe(scored.encoded, scored.out.probability)


def observe_one(served: Served, scored: ScoredOne, request: Request) -> None:
    request.state.model_labels = served.labels
    metrics: InferenceMetrics = request.app.state.metrics
    metrics.observe_score(served.labels, scored.prediction, scored.probability)
    served.drift.observe(scored.encoded, (scored.probability,))
