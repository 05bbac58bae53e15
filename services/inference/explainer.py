"""Reason codes for single-applicant requests, computed together for concurrent requests.

TreeSHAP needs a DMatrix, and XGBoost builds each one with a fixed cost far above a
one-row prediction (it re-reads the cgroup CPU quota and the affinity mask every time).
Requests waiting for reasons in the same event-loop turn are therefore explained with one
DMatrix and one ``pred_contribs`` call: the first one schedules a flush for the next loop
turn, the others join it, and each gets its own rows' reasons back. Under concurrency this
turns N matrix builds into one; a lone request waits one loop turn. Requests served by
different snapshots (a reload in between) are explained by their own model.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import numpy as np
from loguru import logger

from services.core.reasons import top_reasons
from services.inference.runtime import Served

Record = dict[str, Any]


@dataclass(frozen=True)
class _Waiting:
    served: Served
    encoded: np.ndarray  # (1, features)
    record: Record
    future: asyncio.Future[list[Record]]


class ReasonBatcher:
    def __init__(self, k: int) -> None:
        self.k = k
        self._pending: list[_Waiting] = []
        self.flushes = 0  # explain calls made (for tests and curiosity)

    async def explain(self, served: Served, encoded: np.ndarray, record: Record) -> list[Record]:
        """The reasons (as dicts) of one encoded applicant, values as given."""
        loop = asyncio.get_running_loop()
        if not self._pending:
            loop.call_soon(self._flush)
        future: asyncio.Future[list[Record]] = loop.create_future()
        self._pending.append(_Waiting(served, encoded, record, future))
        return await future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        groups: dict[int, list[_Waiting]] = {}
        for item in pending:
            groups.setdefault(id(item.served), []).append(item)
        for group in groups.values():
            self.flushes += 1
            try:
                found = explain_rows(
                    group[0].served,
                    np.vstack([w.encoded for w in group]),
                    [w.record for w in group],
                    self.k,
                )
            except Exception as exc:  # answered as each request's own scoring fault
                logger.opt(exception=exc).error("reason codes failed for {} rows", len(group))
                for w in group:
                    if not w.future.done():
                        w.future.set_exception(ExplainFailed(str(exc)))
                continue
            for w, reasons in zip(group, found, strict=True):
                if not w.future.done():  # a cancelled request (client gone) is skipped
                    w.future.set_result(reasons)


class ExplainFailed(RuntimeError):
    """TreeSHAP failed for a group of rows (the scorer answers it as a scoring fault)."""


def explain_rows(served: Served, data: Any, records: list[Record], k: int) -> list[list[Record]]:
    """Reason codes (as dicts) of encoded rows or their DMatrix, with the values as given."""
    contributions = served.model.contributions(data)
    keys = served.schemas.encoder.keys
    statements = served.model.statements
    return [
        [r.to_dict() for r in top_reasons(row, [rec.get(key) for key in keys], statements, k)]
        for row, rec in zip(contributions, records, strict=True)
    ]
