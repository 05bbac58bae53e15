"""Micro-batching of single-applicant scores: one ``inplace_predict`` per event-loop turn.

A one-row XGBoost call costs far more than a row (the call's fixed overhead is most of
it), and under concurrency many ``/predict`` requests reach the model in the same turn of
the event loop. ``ScoreBatcher.score`` gathers them: when other callbacks are ready to run
in this turn (``loop._ready``, CPython's asyncio; more requests are about to arrive), the
first request opens a batch and schedules its flush for the next turn, the others join it,
and the flush scores all the rows with one prediction, feeds the metrics, the drift window
and the paired baseline once for the batch, and hands each request its own answer. A lone
request (nothing else ready, or an event loop without ``_ready``) is scored at once,
inline: it never waits. A batch holds at most ``max_rows``; rows of different snapshots
(a reload in between) are scored by their own model. Scores are bit-identical to one-row
scoring: XGBoost computes each row's margin alone, and the calibration is elementwise.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.core.decisions.record import BaselineAnswer
from services.inference.metrics import InferenceMetrics
from services.inference.runtime import Served

MAX_ROWS = 256


@dataclass(frozen=True, slots=True)
class RowScore:
    """One applicant's score as plain values, and the baseline's answer (if paired)."""

    probability: float
    prediction: int
    risk_band: str
    baseline: BaselineAnswer | None


@dataclass(slots=True)
class _Waiting:
    served: Served
    encoded: np.ndarray  # (1, features)
    future: asyncio.Future[RowScore]


class ScoreBatcher:
    def __init__(self, metrics: InferenceMetrics, max_rows: int = MAX_ROWS) -> None:
        self.metrics, self.max_rows = metrics, max_rows
        self._open: list[_Waiting] | None = None  # the batch requests may still join
        self.flushes = 0  # predictions made for batches (for tests and curiosity)
        self.batched_rows = 0

    def should_batch(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether a request reaching the model now has company in this turn: a batch is
        open, or other callbacks are ready to run (requests about to reach it too)."""
        return self._open is not None or bool(getattr(loop, "_ready", None))

    async def score(self, served: Served, encoded: np.ndarray) -> RowScore:
        """The score of one encoded applicant, computed with the rows of the other
        requests of this loop turn (the caller checked ``should_batch``)."""
        loop = asyncio.get_running_loop()
        batch = self._open
        if batch is None or len(batch) >= self.max_rows:
            batch = self._open = []
            loop.call_soon(self._flush, batch)
        future: asyncio.Future[RowScore] = loop.create_future()
        batch.append(_Waiting(served, encoded, future))
        return await future

    def _flush(self, batch: list[_Waiting]) -> None:
        if self._open is batch:
            self._open = None
        groups: dict[int, list[_Waiting]] = {}
        for item in batch:
            groups.setdefault(id(item.served), []).append(item)
        for group in groups.values():
            try:
                scores = self.score_rows(group[0].served, [w.encoded for w in group])
            except Exception as exc:  # each request answers it as its own scoring fault
                for w in group:
                    if not w.future.done():
                        w.future.set_exception(exc)
                continue
            for w, score in zip(group, scores, strict=True):
                if not w.future.done():  # a cancelled request (client gone) is skipped
                    w.future.set_result(score)

    def score_rows(self, served: Served, rows: list[np.ndarray]) -> list[RowScore]:
        """Score encoded one-row arrays with one prediction; metrics, drift and the
        paired baseline see the batch once."""
        self.flushes += 1
        self.batched_rows += len(rows)
        encoded = np.concatenate(rows) if len(rows) > 1 else rows[0]
        out = served.model.predict(encoded)
        self.metrics.observe_scores(served.labels, out.label, out.probability)
        served.drift.observe(encoded, out.probability)
        baselines: list[Any] = [None] * len(rows)
        if served.paired is not None:
            found = served.paired.observe_many(encoded, out.label, out.probability)
            if found is not None:
                baselines = found.answers()
        return [
            RowScore(p, label, str(band), base)
            for p, label, band, base in zip(
                out.probability.tolist(), out.label.tolist(), out.band, baselines, strict=True
            )
        ]
