"""Rate limiting with slowapi: per key, 429 + Retry-After, one budget across replicas
through a real Redis, and no failed request when Redis goes away."""

from __future__ import annotations

import pytest

from tests.integration.inference.harness import (
    AUTH,
    OTHER_KEY,
    make_settings,
    running,
)
from tests.support.models import TrainedModel
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

ROW = {"student": "No", "balance": 700.0, "income": 35000.0}


async def test_limit_is_per_key_with_retry_after(default_model: TrainedModel) -> None:
    async with running(make_settings(default_model, rate_limit="3/minute")) as svc:
        codes = [(await svc.predict(ROW)).status_code for _ in range(3)]
        assert codes == [200, 200, 200]
        limited = await svc.client.get("/api/v1/model/info", headers=AUTH)  # shared budget
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        body = limited.json()
        assert body["error"]["code"] == "rate_limited"
        assert body["request_id"]
        other = await svc.predict(ROW, headers={"X-API-Key": OTHER_KEY})
        assert other.status_code == 200  # another key has its own budget
        assert (await svc.client.get("/healthz")).status_code == 200  # probes unlimited
        assert (await svc.client.get("/metrics")).status_code == 200


async def test_without_keys_the_client_address_is_limited(default_model: TrainedModel) -> None:
    settings = make_settings(default_model, rate_limit="2/minute", api_key_hashes=[])
    async with running(settings) as svc:
        codes = [(await svc.predict(ROW, headers={})).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


async def test_replicas_share_one_budget_in_redis(
    default_model: TrainedModel, redis: RedisServer
) -> None:
    settings = make_settings(default_model, rate_limit="5/minute", redis_url=redis.url)
    async with (
        running(settings) as stable,
        running(settings.model_copy(update={"track": "canary"})) as canary,
    ):
        codes = [(await stable.predict(ROW)).status_code for _ in range(3)]
        codes += [(await canary.predict(ROW)).status_code for _ in range(2)]
        assert codes == [200] * 5
        assert (await canary.predict(ROW)).status_code == 429
        assert (await stable.predict(ROW)).status_code == 429
        assert (await stable.predict(ROW, headers={"X-API-Key": OTHER_KEY})).status_code == 200


async def test_redis_outage_falls_back_to_local_counting(
    default_model: TrainedModel, redis: RedisServer
) -> None:
    settings = make_settings(default_model, rate_limit="100/minute", redis_url=redis.url)
    async with running(settings) as svc:
        assert (await svc.predict(ROW)).status_code == 200
        redis.stop()
        codes = {(await svc.predict(ROW)).status_code for _ in range(5)}
        assert codes == {200}
