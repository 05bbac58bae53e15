"""Synthetic applicants at any size, fitted to a real dataset, with optional drift.

The generator is a smoothed bootstrap (a kernel density estimate): it draws real rows
with their labels and adds Gaussian noise to numeric features (Silverman bandwidth,
clipped to the observed range, rounded for integer features; point masses such as a zero
balance are kept exact), so joint structure, missing values and the feature/label
relationship of the real data carry over. Categorical and missing values are kept as drawn.

Drift is controlled and explicit: ``Drift("income", shift=-0.3)`` multiplies a numeric
feature by 0.7; ``Drift("student", level="Yes", fraction=0.4)`` sets a categorical feature
to one level on that fraction of rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.core.contract import FeatureSpec
from services.core.datasets import DatasetConfig, load_dataset
from services.core.encoding import encode_frame


@dataclass(frozen=True)
class Drift:
    feature: str
    shift: float = 0.0  # numeric: relative shift, -0.3 = values 30 % lower
    level: str | None = None  # categorical: the level to push ...
    fraction: float = 0.0  # ... onto this fraction of rows

    @classmethod
    def parse(cls, text: str) -> Drift:
        """Parse ``income:-0.3`` or ``student=Yes:0.4`` (command-line form)."""
        name, _, amount = text.partition(":")
        if "=" in name:
            feature, level = name.split("=", 1)
            return cls(feature, level=level, fraction=float(amount))
        return cls(name, shift=float(amount))


ATOM_SHARE = 0.01  # a value held by more than 1 % of rows is a point mass, never jittered


def _atoms(column: np.ndarray) -> np.ndarray:
    """Per row: is its value a point mass of the column's distribution."""
    _, inverse, counts = np.unique(column, return_inverse=True, return_counts=True)
    return (counts > ATOM_SHARE * len(column))[inverse] & ~np.isnan(column)


class ApplicantGenerator:
    def __init__(self, features: Sequence[FeatureSpec], encoded: np.ndarray, labels: np.ndarray):
        self.features = list(features)
        self._data = np.asarray(encoded, dtype=np.float64)
        self._labels = np.asarray(labels, dtype=np.int8)
        numeric = [j for j, f in enumerate(self.features) if not f.is_categorical]
        self._numeric = np.array(numeric, dtype=np.int64)
        cols = self._data[:, self._numeric]
        n = max(len(self._data), 2)
        self._bandwidth = 1.06 * np.nanstd(cols, axis=0) * n ** (-1 / 5)
        self._low = np.nanmin(cols, axis=0)
        self._high = np.nanmax(cols, axis=0)
        self._integer = np.array([self.features[j].integer for j in numeric], dtype=bool)
        # point masses (a zero balance, a 36-month term, a round loan amount) are kept
        # exact: jitter would move their mass between the reference bins
        self._atom = np.column_stack([_atoms(c) for c in cols.T]) if numeric else cols

    @classmethod
    def from_config(cls, config: DatasetConfig) -> ApplicantGenerator:
        frame, labels = load_dataset(config)
        return cls(config.features, encode_frame(config.features, frame), labels)

    def sample_encoded(
        self, n: int, seed: int = 0, drift: Sequence[Drift] = ()
    ) -> tuple[np.ndarray, np.ndarray]:
        """``n`` rows as the encoded float matrix plus 0/1 labels."""
        rng = np.random.default_rng(seed)
        rows = rng.integers(0, len(self._data), size=n)
        out = self._data[rows]
        noise = rng.standard_normal((n, self._numeric.size)) * self._bandwidth
        noise[self._atom[rows]] = 0.0
        jittered = np.clip(out[:, self._numeric] + noise, self._low, self._high)
        jittered[:, self._integer] = np.round(jittered[:, self._integer])
        out[:, self._numeric] = jittered
        for d in drift:
            self._apply(out, d, rng)
        return out.astype(np.float32), self._labels[rows]

    def sample(self, n: int, seed: int = 0, drift: Sequence[Drift] = ()) -> pd.DataFrame:
        """``n`` applicants as a DataFrame with categorical columns (labels dropped)."""
        encoded, _ = self.sample_encoded(n, seed, drift)
        return self.to_frame(encoded)

    def iter_frames(
        self, n: int, chunk: int = 100_000, seed: int = 0, drift: Sequence[Drift] = ()
    ) -> Iterator[pd.DataFrame]:
        for i, start in enumerate(range(0, n, chunk)):
            yield self.sample(min(chunk, n - start), seed=seed + i, drift=drift)

    def to_frame(self, encoded: np.ndarray) -> pd.DataFrame:
        data: dict[str, object] = {}
        for j, spec in enumerate(self.features):
            column = encoded[:, j]
            if spec.is_categorical:
                codes = np.where(np.isnan(column), -1, column).astype(np.int64)
                data[spec.name] = pd.Categorical.from_codes(codes, categories=spec.levels)
            else:
                data[spec.name] = column.astype(np.float64)
        return pd.DataFrame(data)

    def _apply(self, out: np.ndarray, drift: Drift, rng: np.random.Generator) -> None:
        j = [f.name for f in self.features].index(drift.feature)
        spec = self.features[j]
        if spec.is_categorical:
            if drift.level is None:
                raise ValueError(f"drift of categorical {spec.name!r} needs a level")
            code = (spec.levels or []).index(drift.level)
            out[rng.random(len(out)) < drift.fraction, j] = code
        else:
            out[:, j] = out[:, j] * (1.0 + drift.shift)
            if spec.integer:
                out[:, j] = np.round(out[:, j])
