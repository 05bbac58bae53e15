"""DriftMonitor: buffered incremental PSI against the contract reference, flag gating."""

from __future__ import annotations

import numpy as np
import pytest

from services.core.psi import psi
from services.inference.drift import DriftMonitor, DriftReading
from tests.unit.inference.conftest import make_contract, numeric

pytestmark = pytest.mark.unit

CONTRACT = make_contract([numeric("x", min=0, max=100)])  # edges 25, 50, 75: uniform reference


def monitor(**kw: object) -> tuple[DriftMonitor, list[DriftReading]]:
    seen: list[DriftReading] = []
    options = {"window": 400, "threshold": 0.2, "min_samples": 100, "flush_rows": 50, **kw}
    return DriftMonitor(CONTRACT, on_reading=seen.append, **options), seen  # type: ignore[arg-type]


def uniform(n: int, seed: int, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.uniform(0, 100, (n, 1)) * scale).astype(np.float32), rng.uniform(0, 1, n)


def test_rows_are_buffered_until_flush_rows_then_published() -> None:
    drift, seen = monitor()
    x, s = uniform(30, 1)
    drift.observe(x, s)
    assert seen == []  # 30 < 50 queued, nothing published yet
    drift.observe(*uniform(30, 2))
    assert len(seen) == 1
    assert seen[0].samples == 60


def test_matching_traffic_keeps_the_flag_off_and_shifted_traffic_turns_it_on() -> None:
    drift, _ = monitor()
    for seed in range(8):
        drift.observe(*uniform(50, seed))
    calm = drift.flush()
    assert calm.samples == 400
    assert not calm.detected
    assert calm.features["x"] < 0.05
    assert calm.score < 0.05
    for seed in range(8):
        drift.observe(*uniform(50, 100 + seed, scale=0.4))  # everything below 40
    shifted = drift.flush()
    assert shifted.detected
    assert shifted.features["x"] > 0.2
    window = np.concatenate([uniform(50, 100 + seed, scale=0.4)[0] for seed in range(8)])
    assert shifted.features["x"] == pytest.approx(psi(CONTRACT.reference["x"], window[:, 0]))


def test_the_flag_waits_for_min_samples() -> None:
    drift, _ = monitor(min_samples=100)
    drift.observe(*uniform(60, 3, scale=0.2))
    early = drift.flush()
    assert early.features["x"] > 0.2
    assert not early.detected
    drift.observe(*uniform(60, 4, scale=0.2))
    assert drift.flush().detected


def test_reading_without_rows_is_zero() -> None:
    drift, _ = monitor()
    reading = drift.flush()
    assert reading.samples == 0
    assert reading.score == 0
    assert not reading.detected
    assert reading.as_dict()["feature_psi"] == {"x": 0.0}
