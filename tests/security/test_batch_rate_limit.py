"""Attack: one API key floods the batch job API (status polls, lists, submits) and starves
every other desk, or a caller spreads its flood over the API's replicas.

On the old main the batch API had no rate limit at all. Now every /api/v1 route checks
the key, then the key's budget (``BATCH_RATE_LIMIT``, counted in Redis under the key's id,
shared by all replicas): over it, 429 with ``Retry-After`` and the shared error body,
while other keys are still served. Real Redis; two API instances in-process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import redis as redis_client
from pydantic import ValidationError

from services.batch.api.app import create_app
from services.batch.settings import BatchSettings
from services.core.web.auth import hash_key
from tests.integration.batch.conftest import make_settings, model_dir
from tests.integration.batch.harness import TestClient
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration
__all__ = ["model_dir"]  # fixture, used by name

ALICE, BOB = ({"X-API-Key": k} for k in ("alice-key", "bob-key"))


def limiter_db(redis: RedisServer) -> str:
    return redis.url.removesuffix("/0") + "/1"


@pytest.fixture
def replicas(redis: RedisServer, tmp_path: Path, model_dir: Path) -> Iterator[list[TestClient]]:
    """Two batch API replicas with one budget of 3 requests a minute per key, in Redis db 1
    (as the chart gives them the `ratelimit` user's database)."""
    settings = make_settings(
        redis,
        tmp_path,
        model_dir,
        api_key_hashes=[hash_key("alice-key"), hash_key("bob-key")],
        rate_limit="3/minute",
        rate_limit_storage_uri=limiter_db(redis),
    )
    with ExitStack() as stack:
        yield [stack.enter_context(TestClient(create_app(settings))) for _ in range(2)]


def test_a_flooding_key_is_throttled_while_another_is_served(
    replicas: list[TestClient], redis: RedisServer
) -> None:
    first, second = replicas
    codes = [first.get("/api/v1/jobs", headers=ALICE).status_code for _ in range(2)]
    codes.append(second.get("/api/v1/jobs", headers=ALICE).status_code)  # same budget
    assert codes == [200, 200, 200]

    for api, path in ((first, "/api/v1/jobs"), (second, "/api/v1/jobs/" + "0" * 32)):
        throttled = api.get(path, headers=ALICE)
        assert throttled.status_code == 429, throttled.text
        assert 1 <= int(throttled.headers["Retry-After"]) <= 60
        assert throttled.json()["error"]["code"] == "rate_limited"
    flood = first.post("/api/v1/jobs", json={"rows": [{"x": 1}]}, headers=ALICE)
    assert flood.status_code == 429  # submits share the budget, and nothing is read

    assert second.get("/api/v1/jobs", headers=BOB).status_code == 200  # another desk
    assert first.get("/api/v1/jobs").status_code == 401  # auth first: no budget spent
    assert first.get("/api/v1/jobs", headers={"X-API-Key": "guess"}).status_code == 403
    assert first.get("/healthz").status_code == 200  # probes are not limited

    counters = redis_client.Redis.from_url(limiter_db(redis), decode_responses=True)
    keys: list[str] = counters.keys("*")  # type: ignore[assignment]
    assert any(f"key:{hash_key('alice-key')[:12]}" in k for k in keys), keys
    assert not any("alice-key" in k or "bob-key" in k for k in keys)  # ids, never keys
    assert redis_client.Redis.from_url(redis.url).keys("LIMITS*") == []  # not the queue db


def test_a_typo_in_the_limit_stops_the_service(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="rate_limit"):
        BatchSettings(rate_limit="10 per sekond", storage_dir=tmp_path)
