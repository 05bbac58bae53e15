"""Population Stability Index: reference histograms, batch PSI and a sliding-window form.

Values are the *encoded* feature values that the model sees (see ``encoding``): numbers for
numeric features, level codes for categorical ones (``-1`` for an unseen level), NaN for a
missing value. PSI = sum((a - e) * ln(a / e)) over bins, with every proportion floored at
``EPSILON`` so an empty bin on either side gives a large but finite term.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from services.core.contract import Histogram

EPSILON = 1e-4
DEFAULT_BINS = 10


def numeric_histogram(values: np.ndarray, n_bins: int = DEFAULT_BINS) -> Histogram:
    """Reference histogram with edges near the training quantiles (duplicates merged).

    Each edge sits halfway between two neighbouring distinct sample values, never on one:
    tree models give many rows the same score (one per leaf combination), and an edge
    placed exactly on such an atom would let a rounding difference between training
    (float64) and serving (float32) move the whole atom to the next bin — a PSI of
    0.7 between a model's own holdout and the same rows scored live.
    """
    values = np.asarray(values, dtype=np.float64)
    present = values[~np.isnan(values)]
    edges = _edges_between_values(present, n_bins) if present.size else []
    hist = Histogram(kind="numeric", edges=edges, proportions=[0.0] * (len(edges) + 2))
    return hist.model_copy(update={"proportions": _proportions(bin_counts(hist, values))})


def _edges_between_values(present: np.ndarray, n_bins: int) -> list[float]:
    """Quantile edges, each moved to the midpoint of the distinct values around it (an
    edge on the largest value is dropped: nothing lies above it)."""
    quantiles = np.quantile(present, np.linspace(0, 1, n_bins + 1)[1:-1])
    distinct = np.unique(present)
    above = np.searchsorted(distinct, quantiles, side="right")  # first value > quantile
    above = above[above < distinct.size]
    midpoints = (distinct[above - 1] + distinct[above]) / 2
    return [float(e) for e in np.unique(midpoints)]


def categorical_histogram(codes: np.ndarray, levels: Sequence[str]) -> Histogram:
    hist = Histogram(kind="categorical", levels=list(levels), proportions=[0.0] * (len(levels) + 2))
    return hist.model_copy(update={"proportions": _proportions(bin_counts(hist, codes))})


def bin_indices(hist: Histogram, values: np.ndarray) -> np.ndarray:
    """Bin index of each encoded value (vectorised)."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    if hist.kind == "numeric":
        idx = np.searchsorted(np.asarray(hist.edges), values, side="right")
    else:
        n_levels = len(hist.levels)
        safe = np.where(missing, -1, values)
        known = (safe >= 0) & (safe < n_levels) & (safe == np.floor(safe))
        idx = np.where(known, safe, n_levels).astype(np.int64)
    return np.where(missing, hist.n_bins - 1, idx).astype(np.int64)


def bin_counts(hist: Histogram, values: np.ndarray) -> np.ndarray:
    return np.bincount(bin_indices(hist, values), minlength=hist.n_bins).astype(np.float64)


def _proportions(counts: np.ndarray) -> list[float]:
    total = counts.sum()
    return [float(c) for c in (counts / total if total else counts)]


def psi_from_counts(reference: Sequence[float], counts: np.ndarray) -> float:
    total = float(np.sum(counts))
    if total == 0:
        return 0.0
    expected = np.maximum(np.asarray(reference, dtype=np.float64), EPSILON)
    actual = np.maximum(np.asarray(counts, dtype=np.float64) / total, EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def psi(hist: Histogram, values: np.ndarray) -> float:
    """PSI of a sample of encoded values against a reference histogram."""
    return psi_from_counts(hist.proportions, bin_counts(hist, values))


class SlidingWindowPSI:
    """PSI of the last ``window`` observations, for several columns at once.

    Each observation updates a ring buffer of bin indices and a count matrix in O(1) per
    column (one increment, one decrement once the window is full); reading the PSI costs
    O(bins) per column. The window is never re-scanned, and the PSI is defined from the
    first observation on (no warm-up blind spot), with the current count as denominator.
    """

    def __init__(self, histograms: Sequence[Histogram], window: int) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.histograms = list(histograms)
        self.window = window
        width = max(h.n_bins for h in self.histograms)
        self._ref = np.full((len(self.histograms), width), np.nan)
        for i, h in enumerate(self.histograms):
            self._ref[i, : h.n_bins] = np.maximum(h.proportions, EPSILON)
        self._counts = np.zeros((len(self.histograms), width))
        self._ring = np.zeros((window, len(self.histograms)), dtype=np.int32)
        self._cols = np.arange(len(self.histograms))
        self._next = 0
        self.size = 0

    def update(self, rows: np.ndarray) -> None:
        """Add observations: ``rows`` has shape (n, columns) of encoded values."""
        rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
        if rows.shape[0] > self.window:
            rows = rows[-self.window :]
        idx = np.column_stack([bin_indices(h, rows[:, i]) for i, h in enumerate(self.histograms)])
        n = idx.shape[0]
        slots = (self._next + np.arange(n)) % self.window
        free = self.window - self.size  # empty slots come first: the ring fills in order
        evicted = slots[free:]
        if evicted.size:
            old = self._ring[evicted]
            np.subtract.at(self._counts, (np.broadcast_to(self._cols, old.shape), old), 1.0)
        self._ring[slots] = idx
        np.add.at(self._counts, (np.broadcast_to(self._cols, idx.shape), idx), 1.0)
        self._next = int((self._next + n) % self.window)
        self.size = min(self.window, self.size + n)

    def values(self) -> np.ndarray:
        """Current PSI per column (zeros before the first observation)."""
        if self.size == 0:
            return np.zeros(len(self.histograms))
        actual = np.maximum(self._counts / self.size, EPSILON)
        terms = (actual - self._ref) * np.log(actual / self._ref)
        return np.nansum(terms, axis=1)
