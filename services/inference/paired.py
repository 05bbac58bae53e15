"""Paired scoring: the served model and a baseline model on the same applicant.

A pod given ``baseline_model_uri`` (the canary during a rollout's shadow phase, whose
pods receive mirrored copies of live requests) scores every applicant a second time with
the baseline (the stable version) and counts how the two compare: decision pairs (a flip
is a pair whose outcomes differ), risk-band migrations, the absolute score difference and
the baseline's score distribution. The answer is always the served model's; the baseline
only feeds metrics and the decision record (its answer to the same applicant, from the
numbers already computed), and a failure of it is logged, never answered.

The baseline reads the rows the served model's encoder built, so its features must encode
identically: each baseline feature must exist in the served contract with the same type,
and a categorical one with the same levels in the same order (a level's code is its
position). The served model may have more features (a new nullable one): the baseline then
reads its own columns out of the row. Anything else is refused (``column_issues``) and the
pod serves unpaired. The pure parts (``baseline_columns``, ``decision_pairs``,
``band_pairs``) are unit-tested on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from loguru import logger

from services.core.contract import ModelContract
from services.core.decisions.record import BaselineAnswer
from services.core.model_store import LoadedModel
from services.inference.metrics import PairedSeries


@dataclass(frozen=True)
class Columns:
    """Where the baseline's inputs sit in the served model's encoded row."""

    index: np.ndarray | None  # None: the same columns in the same order (no copy)
    issues: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.issues


def baseline_columns(served: ModelContract, baseline: ModelContract) -> Columns:
    """The baseline's columns in the served encoding, or why it cannot read them."""
    position = {spec.name: i for i, spec in enumerate(served.features)}
    issues: list[str] = []
    index: list[int] = []
    for spec in baseline.features:
        i = position.get(spec.name)
        if i is None:
            issues.append(f"baseline feature {spec.name!r} is not a feature of the served model")
            continue
        other = served.features[i]
        if other.type != spec.type:
            issues.append(
                f"feature {spec.name!r} is {spec.type.value} in the baseline, "
                f"{other.type.value} in the served model"
            )
        elif spec.is_categorical and list(spec.levels or []) != list(other.levels or []):
            issues.append(f"feature {spec.name!r} has other levels (or order) in the baseline")
        index.append(i)
    if issues:
        return Columns(None, tuple(issues))
    if index == list(range(len(served.features))):
        return Columns(None)
    return Columns(np.asarray(index, dtype=np.intp))


def decision_pairs(labels: np.ndarray, baseline_labels: np.ndarray) -> np.ndarray:
    """Counts of (baseline label, served label) pairs, as a 2x2 array [baseline][served]
    (label 1 = default = decline)."""
    codes = baseline_labels.astype(np.intp) * 2 + labels.astype(np.intp)
    return np.bincount(codes, minlength=4).reshape(2, 2)


def band_pairs(
    codes: np.ndarray, baseline_codes: np.ndarray, n_bands: int, n_baseline_bands: int
) -> np.ndarray:
    """Counts of (baseline band, served band) pairs: [baseline band index][served band
    index], the migration matrix."""
    flat = baseline_codes.astype(np.intp) * n_bands + codes.astype(np.intp)
    return np.bincount(flat, minlength=n_baseline_bands * n_bands).reshape(
        n_baseline_bands, n_bands
    )


@dataclass(frozen=True)
class BaselineScores:
    """The baseline's answers to a batch, as the arrays the pair tallies used; per-row
    values are built only when the decisions are recorded (``answers``)."""

    version: str
    probability: np.ndarray
    label: np.ndarray
    band_codes: np.ndarray
    band_names: Sequence[str]

    def answers(self) -> list[BaselineAnswer]:
        names = self.band_names
        return [
            BaselineAnswer(self.version, p, label, names[code])
            for p, label, code in zip(
                self.probability.tolist(),
                self.label.astype(np.int8).tolist(),
                self.band_codes.tolist(),
                strict=True,
            )
        ]


class PairedScorer:
    """The baseline paired with one served snapshot, and the metric series it feeds."""

    def __init__(
        self, served: LoadedModel, baseline: LoadedModel, columns: Columns, series: PairedSeries
    ) -> None:
        self.served, self.baseline = served, baseline
        self.index = columns.index
        self.series = series
        self.baseline_bands = [b.name for b in baseline.contract.risk_bands]

    def _inputs(self, encoded: np.ndarray) -> np.ndarray:
        return encoded if self.index is None else encoded[:, self.index]

    def observe_one(
        self, encoded: np.ndarray, label: int, probability: float, band: str
    ) -> BaselineAnswer | None:
        """Score one encoded applicant with the baseline and count the pair; the
        baseline's answer (None if it failed)."""
        try:
            base_probability, base_label, base_band = self.baseline.predict_one(
                self._inputs(encoded)
            )
        except Exception as exc:  # the baseline never fails an answer
            logger.opt(exception=exc).warning("baseline prediction failed for 1 row")
            return None
        self.series.observe_one(label, base_label, band, base_band, probability, base_probability)
        return BaselineAnswer(self.baseline.version, base_probability, base_label, base_band)

    def observe_many(
        self, encoded: np.ndarray, labels: np.ndarray, proba: np.ndarray
    ) -> BaselineScores | None:
        """Score a batch with one baseline prediction and count every pair; the
        baseline's answers (None if it failed)."""
        try:
            base_proba = self.baseline.probabilities(self._inputs(encoded))
        except Exception as exc:
            logger.opt(exception=exc).warning("baseline prediction failed for {} rows", len(labels))
            return None
        base_labels = base_proba >= self.baseline.contract.threshold
        base_codes = self.baseline.band_codes(base_proba)
        series = self.series
        decisions = decision_pairs(labels, base_labels)
        bands = band_pairs(
            self.served.band_codes(proba),
            base_codes,
            len(series.bands),
            len(series.baseline_bands),
        )
        series.observe_many(decisions, bands, proba, base_proba)
        return BaselineScores(
            self.baseline.version, base_proba, base_labels, base_codes, self.baseline_bands
        )
