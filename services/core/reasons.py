"""Reason codes: which features pushed a score toward default, and the statement for each.

Input is a row's exact TreeSHAP contributions as XGBoost returns them
(``Booster.predict(dmatrix, pred_contribs=True)``: one column per feature in contract
order, then the bias; they add up to the margin, i.e. log-odds before calibration). A
positive contribution raised the margin, and Platt calibration is increasing in it, so
raised the probability of default. The reasons are the ``k`` features with the largest
positive contributions, largest first; features that lowered or did not move the score
are never reasons, so a row may have fewer than ``k``.

Each reason carries the statement of the direction of the feature's value
(``services.core.statements``): ``high``/``low`` against the training median (from the
contract's reference histogram), the level's own statement, ``missing`` or ``unseen``.
``top_reasons`` explains one row from its raw values (the API's answers);
``top_reason_columns`` explains many rows from the encoded matrix, vectorised (batch).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from services.core.contract import FeatureSpec, Histogram, ModelContract

DEFAULT_TOP_K = 4
NO_REASON = -1  # in the vectorised columns: fewer than k features raised the score


@dataclass(frozen=True, slots=True)
class Reason:
    """One feature that pushed the score toward default."""

    feature: str
    value: Any  # as given (a number, a level, None for missing)
    contribution: float  # TreeSHAP contribution to the margin (log-odds), > 0
    statement: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "value": self.value,
            "contribution": self.contribution,
            "statement": self.statement,
        }


def median(histogram: Histogram) -> float:
    """The edge where the reference's cumulative share (present values) reaches one half."""
    inner = histogram.proportions[:-1]  # the last bin holds missing values
    total = sum(inner)
    running = 0.0
    for edge, share in zip(histogram.edges, inner, strict=False):
        running += share
        if total > 0 and running >= total / 2:
            return edge
    return histogram.edges[-1] if histogram.edges else math.inf


@dataclass(frozen=True)
class _Column:
    name: str
    pivot: float  # numeric: values >= pivot are "high"
    missing: int  # statement codes (index into Statements.texts)
    high: int = NO_REASON
    low: int = NO_REASON
    unseen: int = NO_REASON
    levels: tuple[int, ...] = ()  # categorical: code of each level, in model code order
    level_index: dict[str, int] | None = None  # level -> position (None: numeric)


class Statements:
    """The completed reason statements of a contract, as numbered texts per feature."""

    def __init__(self, contract: ModelContract) -> None:
        self.texts: list[str] = []
        self.names = contract.feature_names
        self.columns = [
            self._column(spec, contract.reference[spec.name]) for spec in contract.features
        ]

    def _add(self, text: str | None) -> int:
        self.texts.append(text or "")
        return len(self.texts) - 1

    def _column(self, spec: FeatureSpec, reference: Histogram) -> _Column:
        done = spec.statements()
        missing = self._add(done.missing)
        if not spec.is_categorical:
            return _Column(
                spec.name, median(reference), missing, self._add(done.high), self._add(done.low)
            )
        levels = spec.levels or []
        return _Column(
            spec.name,
            math.inf,
            missing,
            unseen=self._add(done.unseen),
            levels=tuple(self._add(done.levels[lvl]) for lvl in levels),
            level_index={lvl: i for i, lvl in enumerate(levels)},
        )

    def code(self, j: int, value: Any) -> int:
        """Statement code of feature ``j`` for a raw value (a number, a level, None)."""
        col = self.columns[j]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return col.missing
        if col.level_index is not None:
            position = col.level_index.get(str(value))
            return col.unseen if position is None else col.levels[position]
        return col.high if float(value) >= col.pivot else col.low

    def codes(self, encoded: np.ndarray) -> np.ndarray:
        """Statement code of every cell of an encoded (rows, features) matrix."""
        out = np.empty(encoded.shape, dtype=np.int32)
        for j, col in enumerate(self.columns):
            x = encoded[:, j]
            missing = np.isnan(x)
            if col.level_index is None:
                picked = np.where(x >= col.pivot, col.high, col.low)
            else:
                lookup = np.array([*col.levels, col.unseen], dtype=np.int32)
                idx = np.where(missing, -1, x).astype(np.int64)
                known = (idx >= 0) & (idx < len(col.levels))
                picked = lookup[np.where(known, idx, len(col.levels))]
            out[:, j] = np.where(missing, col.missing, picked)
        return out


def top_reasons(
    contributions: np.ndarray | Sequence[float],
    values: Sequence[Any],
    statements: Statements,
    k: int = DEFAULT_TOP_K,
) -> list[Reason]:
    """The ``k`` features with the largest positive contributions of one row, largest
    first (ties in feature order). ``contributions`` has one entry per feature then the
    bias; ``values`` one raw value per feature, in contract order."""
    phi = [float(c) for c in contributions[: len(statements.names)]]
    ranked = sorted((j for j, c in enumerate(phi) if c > 0), key=lambda j: -phi[j])[: max(k, 0)]
    return [
        Reason(
            statements.names[j],
            values[j],
            phi[j],
            statements.texts[statements.code(j, values[j])],
        )
        for j in ranked
    ]


@dataclass(frozen=True)
class ReasonColumns:
    """Reasons of many rows: ``(rows, k)`` arrays, ``NO_REASON`` where a row has fewer."""

    feature: np.ndarray  # feature index (int32)
    contribution: np.ndarray  # float64, NaN where there is no reason
    statement: np.ndarray  # statement code (int32)


def top_reason_columns(
    contributions: np.ndarray,
    encoded: np.ndarray,
    statements: Statements,
    k: int = DEFAULT_TOP_K,
    inverse: np.ndarray | None = None,
) -> ReasonColumns:
    """``top_reasons`` of every row of an encoded matrix at once (always ``k`` columns).

    With ``inverse``, ``contributions`` has one row per group of rows every tree treats
    alike (``SplitBins.distinct``) and ``inverse`` gives each row its group: the features
    are ranked once per group (the same ranks: equal contributions), only the statements,
    which depend on each row's own values, are picked per row."""
    _rows, width = encoded.shape
    phi = np.asarray(contributions, dtype=np.float64)[:, :width]
    take = min(k, width)
    order = np.argsort(-phi, axis=1, kind="stable")[:, :take].astype(np.int32)
    top = np.take_along_axis(phi, order, axis=1)
    if inverse is not None:
        order, top = order[inverse], top[inverse]
    keep = top > 0
    codes = np.take_along_axis(statements.codes(encoded), order, axis=1)
    if take < k:
        pad = ((0, 0), (0, k - take))
        return ReasonColumns(
            np.pad(np.where(keep, order, NO_REASON), pad, constant_values=NO_REASON),
            np.pad(np.where(keep, top, np.nan), pad, constant_values=np.nan),
            np.pad(np.where(keep, codes, NO_REASON), pad, constant_values=NO_REASON),
        )
    return ReasonColumns(
        np.where(keep, order, NO_REASON),
        np.where(keep, top, np.nan),
        np.where(keep, codes, NO_REASON),
    )
