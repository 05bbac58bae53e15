"""Request bodies from the shared synthetic generator (optionally drifted)."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from services.core.datasets import load_config
from services.core.synthetic import ApplicantGenerator, Drift


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def applicants(
    n: int, seed: int = 0, drift: Sequence[Drift] = (), dataset: str = "default"
) -> list[dict[str, Any]]:
    """``n`` applicants as JSON-ready dicts for ``POST /api/v1/predict``."""
    generator = ApplicantGenerator.from_config(load_config(dataset))
    frame = generator.sample(n, seed=seed, drift=drift)
    return [
        {key: _clean(value) for key, value in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]


class ApplicantPool:
    """An endless, thread-safe cycle over a fixed sample of applicants."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            raise ValueError("an applicant pool needs rows")
        self._cycle: Iterator[dict[str, Any]] = itertools.cycle(rows)
        self._lock = threading.Lock()

    def next(self) -> dict[str, Any]:
        with self._lock:
            return next(self._cycle)
