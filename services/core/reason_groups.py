"""Batch reason codes ranked once per group of rows that get the same reasons, and each
group's exact TreeSHAP contributions remembered across chunks (per loaded model).

A row's reasons depend on its values only through (``split_bins``) the bin vector every
tree sees, which fixes its exact TreeSHAP contributions, and (``reasons.Statements``)
which side of each numeric feature's pivot it is on and its categorical level, which fix
its statements. Rows alike in both get identical reasons, so ``ReasonGroups.columns``
ranks the features once per such group (``top_reason_columns`` on one representative row
per group) and copies the result to the group's rows: the same arrays, bit for bit, as
ranking every row (``top_reason_columns`` on ``LoadedModel.contributions_of_many``).

The bin vectors are numbered the same way in every call (``SplitBins.keys``: the model's
fixed radix), so the contributions of a bin vector are computed once per loaded model and
kept in a table of at most ``MAX_TABLE_BYTES`` (one row per possible bin vector: the
Default model has 9,180). A long job pays TreeSHAP for the bin vectors its first chunks
meet (~2,500 in a 200,000-row chunk), then almost never: TreeSHAP of a few thousand rows
costs more than everything else the reasons need in a chunk. Models with too many bin
vectors (or rows with codes outside the numbering) are not handled here: ``columns``
returns None and the caller ranks per chunk's groups as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from services.core.reasons import ReasonColumns, Statements, top_reason_columns
from services.core.split_bins import SplitBins, distinct_keys

MAX_TABLE_BYTES = 64 << 20  # the contributions table of one loaded model, at most


@dataclass(frozen=True)
class GroupedReasons:
    """``top_reason_columns`` of many rows as one row per group and each row's group:
    ``ReasonColumns(feature[inverse], contribution[inverse], statement[inverse])``.
    ``first``: one row of each group (rows of a group have the same bin vector, so the
    same probability too: the batch decision record stores it once per group)."""

    groups: ReasonColumns
    inverse: np.ndarray
    first: np.ndarray | None = None

    def rows(self) -> ReasonColumns:
        g, i = self.groups, self.inverse
        return ReasonColumns(g.feature[i], g.contribution[i], g.statement[i])


class ReasonGroups:
    def __init__(
        self,
        bins: SplitBins,
        statements: Statements,
        contributions: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.bins = bins
        self.statements = statements
        self._contributions = contributions  # exact TreeSHAP of encoded rows (+ bias)
        width = len(statements.columns)
        self.enabled = (
            bins.radix is not None
            and bins.combinations * (width + 1) * 4 <= MAX_TABLE_BYTES
            and len(bins.radix) == width
        )
        self._table: np.ndarray | None = None  # (combinations, width + 1) float32
        self._known: np.ndarray | None = None  # which rows of the table are computed
        self._lock = threading.Lock()

    def columns(
        self, encoded: np.ndarray, k: int, keys: np.ndarray | None = None
    ) -> GroupedReasons | None:
        """The top ``k`` reasons of every row of an encoded matrix, once per group; None when
        this model or these rows cannot be numbered (see the module doc). ``keys``: the
        rows' ``SplitBins.keys`` when the caller has them."""
        if not self.enabled or not len(encoded):
            return None
        keys = self.bins.keys(encoded) if keys is None else keys
        if keys is None:
            return None
        refined, combinations = keys, int(self.bins.combinations)
        for j, col in enumerate(self.statements.columns):
            if col.level_index is None:  # numeric: its statement's side of the pivot
                refined = refined * 2 + (encoded[:, j] >= col.pivot)
                combinations *= 2
        first, inverse = distinct_keys(refined, combinations)
        representatives = np.ascontiguousarray(encoded[first])
        phi = self._known_contributions(representatives, keys[first])
        found = top_reason_columns(phi, representatives, self.statements, k)
        return GroupedReasons(found, inverse, first)

    def _known_contributions(self, rows: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """The contributions of ``rows`` (one per key), from the table, computing (once)
        those of keys not met before."""
        with self._lock:
            if self._table is None or self._known is None:
                size = int(self.bins.combinations)
                self._table = np.zeros((size, rows.shape[1] + 1), dtype=np.float32)
                self._known = np.zeros(size, dtype=bool)
            table, known = self._table, self._known
            new = ~known[keys]
            if new.any():
                fresh, at = np.unique(keys[new], return_index=True)
                table[fresh] = self._contributions(np.ascontiguousarray(rows[new][at]))
                known[fresh] = True
            return table[keys]

    def clear(self) -> None:
        """Forget the computed contributions (benchmarks: each run starts cold)."""
        with self._lock:
            self._table = self._known = None
