"""The in-process fixed-window store used by the rate limiter without Redis."""

from __future__ import annotations

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from services.core.web import limit_storage
from services.core.web.limit_storage import LocalStorage

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(limit_storage, "time", fake)
    return fake


def test_scheme_resolves_to_the_local_store() -> None:
    assert isinstance(storage_from_string("local://"), LocalStorage)


def test_fixed_window_counts_and_resets(clock: Clock) -> None:
    limiter = FixedWindowRateLimiter(LocalStorage())
    item = parse("3/minute")
    assert [limiter.hit(item, "k") for _ in range(4)] == [True, True, True, False]
    assert limiter.hit(item, "other")  # budgets are per key
    stats = limiter.get_window_stats(item, "k")
    assert stats.remaining == 0
    assert stats.reset_time == pytest.approx(1060.0)
    clock.now += 61
    assert limiter.hit(item, "k")
    assert limiter.get_window_stats(item, "k").remaining == 2


def test_expired_windows_are_swept_when_the_table_is_full(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limit_storage, "MAX_KEYS", 3)
    storage = LocalStorage()
    for key in "abc":
        storage.incr(key, 10)
    clock.now += 11
    storage.incr("d", 10)
    assert set(storage._windows) == {"d"}
    assert storage.get("a") == 0
    assert storage.check()
    assert storage.reset() == 1
