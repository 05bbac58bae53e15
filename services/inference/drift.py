"""Live drift: PSI of the last N scored rows against the contract's training reference.

One ``SlidingWindowPSI`` column per feature plus one for the score. The request path only
appends its encoded rows to a small buffer; every ``flush_rows`` rows (and before every
``/metrics`` scrape or model-info read) the buffer goes into the window in one vectorised
update, O(bins) per row, and the gauges are refreshed. The window itself is never
re-scanned, and the PSI is defined from the first row on.

The drift flag turns on when any PSI exceeds ``threshold`` once the window holds at least
``min_samples`` rows: PSI of a small sample is biased upwards (about (bins − 1) / n), so a
handful of requests must not page anyone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from services.core.contract import ModelContract
from services.core.psi import SlidingWindowPSI


@dataclass(frozen=True)
class DriftReading:
    samples: int
    features: dict[str, float]
    score: float
    detected: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "samples": self.samples,
            "score_psi": self.score,
            "feature_psi": self.features,
            "detected": self.detected,
        }


class DriftMonitor:
    def __init__(
        self,
        contract: ModelContract,
        *,
        window: int,
        threshold: float,
        min_samples: int,
        flush_rows: int,
        on_reading: Callable[[DriftReading], None] | None = None,
    ) -> None:
        self.names = contract.feature_names
        histograms = [contract.reference[name] for name in self.names]
        self._psi = SlidingWindowPSI([*histograms, contract.score_reference], window)
        self.threshold, self.min_samples, self.flush_rows = threshold, min_samples, flush_rows
        self._on_reading = on_reading
        self._pending: list[tuple[np.ndarray, np.ndarray | Sequence[float]]] = []
        self._pending_rows = 0

    def observe(self, encoded: np.ndarray, scores: np.ndarray | Sequence[float]) -> None:
        """Queue scored rows (encoded features + probability); cheap on the request path."""
        self._pending.append((encoded, scores))
        self._pending_rows += len(scores)
        if self._pending_rows >= self.flush_rows:
            self.flush()

    def flush(self) -> DriftReading:
        """Move queued rows into the window and publish the current reading."""
        if self._pending:
            features = np.concatenate([x for x, _ in self._pending])
            scores = np.concatenate([s for _, s in self._pending])
            self._pending, self._pending_rows = [], 0
            self._psi.update(np.column_stack((features, scores)))
        reading = self.reading()
        if self._on_reading is not None:
            self._on_reading(reading)
        return reading

    def reading(self) -> DriftReading:
        values = [float(v) for v in self._psi.values()]
        samples = self._psi.size
        detected = samples >= self.min_samples and max(values) > self.threshold
        return DriftReading(
            samples, dict(zip(self.names, values[:-1], strict=True)), values[-1], detected
        )
