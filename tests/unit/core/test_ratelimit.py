"""The shared rate limiter (inference, batch API): budgets per key or address, 429 data,
storage failure fallback."""

from __future__ import annotations

from typing import Any

import pytest
from slowapi.errors import RateLimitExceeded
from starlette.requests import Request

from services.core.web import limiter as ratelimit
from services.core.web.limiter import RequestLimiter, client_key, retry_after

pytestmark = pytest.mark.unit


def request(key_id: str | None = None, address: str = "10.0.0.1") -> Request:
    state: dict[str, Any] = {"api_key_id": key_id} if key_id else {}
    return Request({"type": "http", "client": (address, 5000), "headers": [], "state": state})


class Broken:
    calls = 0

    def hit(self, *args: Any, **kwargs: Any) -> bool:
        Broken.calls += 1
        raise ConnectionError("redis is down")


def test_budget_per_key_then_per_address() -> None:
    limiter = RequestLimiter("2/minute")
    for _ in range(2):
        limiter.check(request("abc"))
    with pytest.raises(RateLimitExceeded):
        limiter.check(refused := request("abc"))
    assert 1 <= retry_after(refused) <= 60
    limiter.check(request("other"))  # another key, another budget
    assert client_key(request("anonymous", "10.0.0.9")) == "addr:10.0.0.9"
    assert client_key(request("abc")) == "key:abc"


def test_off_when_no_rate_is_set() -> None:
    limiter = RequestLimiter("")
    for _ in range(100):
        limiter.check(request("abc"))
    assert retry_after(request()) == 1


def test_storage_failure_counts_in_memory_then_retries_storage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [100.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: clock[0])
    limiter = RequestLimiter("3/minute")
    limiter.slowapi._limiter = Broken()  # type: ignore[assignment]
    for _ in range(3):
        limiter.check(request("abc"))  # no error reaches the request
    assert Broken.calls == 1  # the storage is left alone for a while
    with pytest.raises(RateLimitExceeded):
        limiter.check(request("abc"))  # the in-memory count still limits
    clock[0] += ratelimit.FALLBACK_SECONDS + 1
    with pytest.raises(RateLimitExceeded):
        limiter.check(request("abc"))
    assert Broken.calls == 2  # tried again after the pause


def test_every_limit_of_a_rate_applies_and_prefixes_keep_services_apart() -> None:
    limiter = RequestLimiter("2/second;3/minute", prefix="batch")
    other_service = RequestLimiter("2/second;3/minute", prefix="inference")
    other_service.slowapi = limiter.slowapi  # one storage, as in a shared Redis
    for _ in range(2):
        limiter.check(request("abc"))
    with pytest.raises(RateLimitExceeded):
        limiter.check(request("abc"))  # the per-second limit
    other_service.check(request("abc"))  # same key id, another service's budget
