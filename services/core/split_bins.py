"""Rows that every tree treats alike, found without walking the trees (for batch TreeSHAP).

A tree model sees a numeric value only through comparisons with its split thresholds
(``x < t`` goes left, a missing value takes the node's default branch), and a categorical
code only through membership tests. Two rows that fall in the same interval between the
thresholds of every feature (or have the same code, or are both missing) follow the same
branch at every node of every tree, so they get the same prediction and the same exact
TreeSHAP contributions (TreeSHAP reads a row only through those branch decisions). Batch
scoring computes contributions once per distinct bin vector and copies them to the other
rows: exact, and on a small model (the Default model has ~100 thresholds over 3
features) thousands of times fewer TreeSHAP evaluations for a million rows. Batch scoring
likewise evaluates the booster once per distinct bin vector when the model allows few of
them (``few_groups``): the same leaves summed in the same order, so bit-identical margins.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from services.core.contract import FeatureSpec

GROUPING_FACTOR = 8  # grouping rows pays when they fall in at most 1/8 as many bin vectors


@dataclass(frozen=True)
class SplitBins:
    thresholds: list[
        np.ndarray | None
    ]  # per feature: sorted float32 split values; None: categorical
    # how many distinct bin vectors rows can fall in at most (the product over features of
    # their bins: missing, and each interval or level); inf when unknown
    combinations: float = math.inf
    # per feature, how many bins its values can fall in (``combinations`` is their
    # product): the fixed radix of ``keys``; None when unknown
    radix: tuple[int, ...] | None = None

    @classmethod
    def from_booster_json(
        cls, raw: bytes | bytearray | str, features: Sequence[FeatureSpec]
    ) -> SplitBins:
        """Thresholds of every numeric split of the model (``booster.save_raw("json")``)."""
        model = json.loads(raw)["learner"]["gradient_booster"]["model"]
        found: list[set[float]] = [set() for _ in features]
        for tree in model["trees"]:
            for left, feature, value, kind in zip(
                tree["left_children"],
                tree["split_indices"],
                tree["split_conditions"],
                tree["split_type"],
                strict=True,
            ):
                if left != -1 and kind == 0:
                    found[feature].add(value)
        thresholds = [
            None if spec.is_categorical else np.unique(np.array(sorted(values), dtype=np.float32))
            for spec, values in zip(features, found, strict=True)
        ]
        radix = tuple(
            len(spec.levels or []) + 3 if cuts is None else len(cuts) + 2
            for spec, cuts in zip(features, thresholds, strict=True)
        )  # a level's bin is its code + 2 (1 left for an unknown code), an interval's 1..n+1
        return cls(thresholds, math.prod(float(r) for r in radix), radix)

    def few_groups(self, rows: int) -> bool:
        """Whether ``rows`` rows surely fall in few enough bin vectors (at most
        1/``GROUPING_FACTOR`` of them) that evaluating the model once per vector (plus
        ``distinct``: ~0.07 µs a row) costs less than evaluating it for every row."""
        return self.combinations * GROUPING_FACTOR <= rows

    def bins(self, encoded: np.ndarray) -> np.ndarray:
        """(rows, features) int32: each value's interval index (numeric), its code + 2
        (categorical), 0 when missing."""
        out = np.empty(encoded.shape, dtype=np.int32)
        for j, cuts in enumerate(self.thresholds):
            out[:, j] = _column_bins(encoded[:, j], cuts)
        return out

    def keys(self, encoded: np.ndarray) -> np.ndarray | None:
        """Each row's bin vector as one int64, numbered the same way in every call (the
        fixed ``radix``, not the rows' own): rows with the same key are treated alike by
        every tree, in any chunk. None when the numbering is unknown or too large, or a
        categorical code falls outside its ``radix`` (then the caller groups per call)."""
        if self.radix is None or self.combinations >= 2.0**62:
            return None
        key = np.zeros(len(encoded), dtype=np.int64)
        weight = 1
        for j, (cuts, radix) in enumerate(zip(self.thresholds, self.radix, strict=True)):
            column = _column_bins(encoded[:, j], cuts)
            if cuts is None and len(column):  # a code's bin is 1 (code -1) .. radix - 1
                present = column[column != 0]
                if len(present) and (int(present.min()) < 1 or int(present.max()) >= radix):
                    return None
            key += column * weight
            weight *= radix
        return key

    def distinct(
        self, encoded: np.ndarray, keys: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Row indices of one representative per distinct bin vector, and for every row
        the position of its representative (``rows[first][inverse]`` treats like ``rows``).
        ``keys``: the rows' ``keys``, when the caller has them."""
        if keys is not None:
            return distinct_keys(keys, int(self.combinations))
        bins = np.ascontiguousarray(self.bins(encoded))
        radix = [int(bins[:, j].max(initial=0)) + 1 for j in range(bins.shape[1])]
        row_keys: np.ndarray
        combinations = float(np.prod(np.array(radix, dtype=np.float64)))
        if combinations < 2.0**62:  # one int64 per row
            weights = np.cumprod([1, *radix[:-1]], dtype=np.int64)
            row_keys = bins.astype(np.int64) @ weights
            if combinations <= max(4 * len(row_keys), 1 << 16):
                return _dense_distinct(row_keys, int(combinations))
        else:  # too many combinations for an integer: compare the rows' bytes
            row_keys = bins.view(np.dtype((np.void, bins.dtype.itemsize * bins.shape[1]))).ravel()
        _, first, inverse = np.unique(row_keys, return_index=True, return_inverse=True)
        return first, inverse.reshape(-1)


def _column_bins(values: np.ndarray, cuts: np.ndarray | None) -> np.ndarray:
    """``bins`` of one feature's values (int64; 0 when missing)."""
    x = np.ascontiguousarray(values, dtype=np.float32)
    missing = np.isnan(x)
    if cuts is None:
        inner = np.where(missing, 0, x).astype(np.int64) + 2
    else:  # thresholds <= x: the same count means the same side of every split
        inner = _count_at_most(cuts, x).astype(np.int64) + 1
    inner[missing] = 0
    return inner


COMPARE_CUTS = 128  # up to this many thresholds, counting by comparisons beats a search


def _count_at_most(cuts: np.ndarray, x: np.ndarray) -> np.ndarray:
    """How many of the sorted ``cuts`` are <= each value (``searchsorted(side="right")``;
    NaN counts none). With few cuts, one vectorised comparison per cut: ~5x faster than
    a binary search per value, whose branches a CPU cannot predict on shuffled rows."""
    if len(cuts) > COMPARE_CUTS:
        return np.searchsorted(cuts, x, side="right")
    count = np.zeros(len(x), dtype=np.int16)
    for cut in cuts:
        count += x >= cut
    return count


def distinct_keys(keys: np.ndarray, combinations: int) -> tuple[np.ndarray, np.ndarray]:
    """One row index per distinct integer key in ``[0, combinations)`` and each row's
    position among them: a presence table when the keys are few, else a sort."""
    if combinations <= max(4 * len(keys), 1 << 16):
        return _dense_distinct(keys, combinations)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _dense_distinct(keys: np.ndarray, combinations: int) -> tuple[np.ndarray, np.ndarray]:
    """``distinct`` of small integer keys without sorting: a presence table over every
    possible key (groups in key order, as ``np.unique`` numbers them). Any row of a group
    represents it (they all fall in the same bins)."""
    present = np.zeros(combinations, dtype=bool)
    present[keys] = True
    inverse = (np.cumsum(present) - 1)[keys]
    first = np.empty(int(np.count_nonzero(present)), dtype=np.int64)
    first[inverse] = np.arange(len(keys), dtype=np.int64)
    return first, inverse
