"""Attack: reach Redis (the rq queue: whoever writes it runs code in every batch worker)
without credentials, or with the rate limiters' credentials (inference, batch API).

The bundled Redis container of the rendered chart is run for real: its own command and
arguments (the ACL file is written at start from the passwords in the chart's Secret) on
a local redis-server, then probed as an attacker and as the services would connect, with
the URLs the chart renders into the inference and batch pods."""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import yaml
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from rq import Queue, SimpleWorker

from tests.integration.deploy.chart import template_text
from tests.support.processes import free_port, stop, wait_for_port

pytestmark = pytest.mark.integration

Manifest = dict[str, Any]
PREFIX = "cr-creditrisk"


class Rendered:
    def __init__(self, port: int) -> None:
        text = template_text(extra=("--set", f"redis.service.port={port}"))
        self.text = text
        self.docs: list[Manifest] = [d for d in yaml.safe_load_all(text) if d]
        (secret,) = [
            d
            for d in self.docs
            if d["kind"] == "Secret" and d["metadata"]["name"] == f"{PREFIX}-redis"
        ]
        self.passwords = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}

    def container(self, deployment: str) -> Manifest:
        (d,) = [
            d
            for d in self.docs
            if d["kind"] == "Deployment" and d["metadata"]["name"] == f"{PREFIX}-{deployment}"
        ]
        return dict(d["spec"]["template"]["spec"]["containers"][0])

    def env(self, deployment: str) -> dict[str, str]:
        """The container's env as the kubelet builds it (Secret refs, then $(VAR) expansion),
        the Redis Service name pointed at the local server."""
        env: dict[str, str] = {}
        for item in self.container(deployment).get("env", []):
            ref = item.get("valueFrom", {}).get("secretKeyRef")
            if ref and ref["name"] == f"{PREFIX}-redis":
                env[item["name"]] = self.passwords[ref["key"]]
            elif "value" in item:
                value = re.sub(
                    r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), item["value"]
                )
                env[item["name"]] = value.replace(f"@{PREFIX}-redis:", "@127.0.0.1:")
        return env


@pytest.fixture(scope="module")
def chart_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rendered, int]]:
    port = free_port()
    rendered = Rendered(port)
    work = tmp_path_factory.mktemp("redis")
    c = rendered.container("redis")
    argv = [
        a.replace("/tmp/", f"{work}/").replace("/data", str(work))
        for a in [*c["command"], *c["args"]]
    ]
    log = open(work / "redis.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        argv, env={"PATH": "/usr/bin:/bin", **rendered.env("redis")}, stdout=log, stderr=log
    )
    try:
        wait_for_port(port)
        yield rendered, port
    finally:
        stop(proc)
        log.close()


def test_no_unauthenticated_command(chart_redis: tuple[Rendered, int]) -> None:
    _, port = chart_redis
    anonymous = redis.Redis(port=port)
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        anonymous.lpush("rq:queue:default", "payload")
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port, username="default", password="").ping()
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis(port=port, username="batch", password="guess").ping()


LIMITER_URLS = (("inference", "INFERENCE_REDIS_URL"), ("batch-api", "BATCH_RATE_LIMIT_STORAGE_URI"))


@pytest.mark.parametrize(("deployment", "variable"), LIMITER_URLS)
def test_limiter_credentials_cannot_touch_the_queue(
    chart_redis: tuple[Rendered, int], deployment: str, variable: str
) -> None:
    rendered, _ = chart_redis
    url = rendered.env(deployment)[variable]
    assert url.startswith("redis://ratelimit:")
    limiter = redis.Redis.from_url(url)
    assert limiter.ping()
    for attack in (
        lambda: limiter.lpush("rq:queue:default", "payload"),
        lambda: limiter.execute_command("SELECT", 0) and limiter.get("rq:job:x"),
        lambda: limiter.keys("*"),
        lambda: limiter.flushall(),
        lambda: limiter.config_set("dir", "/tmp"),
        lambda: limiter.publish("rq:pubsub:w", "kill-horse"),
        lambda: limiter.eval("return redis.call('lpush', KEYS[1], 'x')", 1, "rq:queue:default"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            attack()


def test_batch_credentials_cannot_administer(chart_redis: tuple[Rendered, int]) -> None:
    rendered, _ = chart_redis
    queue = redis.Redis.from_url(rendered.env("batch-api")["REDIS_URL"])
    for attack in (
        lambda: queue.config_set("dir", "/tmp"),
        lambda: queue.flushall(),
        lambda: queue.execute_command("ACL", "LIST"),
        lambda: queue.execute_command("MODULE", "LIST"),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            attack()


def test_services_work_with_their_rendered_urls(chart_redis: tuple[Rendered, int]) -> None:
    """The positive half: rq (batch) and limits (inference, batch API) run under their ACL
    users."""
    rendered, _ = chart_redis
    for deployment in ("batch-api", "batch-worker"):
        conn = redis.Redis.from_url(rendered.env(deployment)["REDIS_URL"])
        queue = Queue(f"acl-{deployment}", connection=conn)
        job = queue.enqueue("builtins.len", [1, 2, 3])
        SimpleWorker([queue], connection=conn).work(burst=True)
        job.refresh()
        assert job.return_value() == 3, deployment
    for deployment, variable in LIMITER_URLS:
        limiter = FixedWindowRateLimiter(storage_from_string(rendered.env(deployment)[variable]))
        hits = [limiter.hit(parse("2/minute"), deployment, "key:k") for _ in range(3)]
        assert hits == [True, True, False], deployment
        assert limiter.get_window_stats(parse("2/minute"), deployment, "key:k").remaining == 0


def test_readiness_probe_authenticates(chart_redis: tuple[Rendered, int]) -> None:
    rendered, _ = chart_redis
    probe = rendered.container("redis")["readinessProbe"]["exec"]["command"]
    env = {"PATH": "/usr/bin:/bin", **rendered.env("redis")}
    assert subprocess.run(probe, env=env, check=False, timeout=30).returncode == 0
    env["REDIS_BATCH_PASSWORD"] = "wrong"
    assert subprocess.run(probe, env=env, check=False, timeout=30).returncode != 0


def test_no_password_outside_the_secret(chart_redis: tuple[Rendered, int]) -> None:
    rendered, _ = chart_redis
    for doc in rendered.docs:
        if doc["kind"] == "Secret":
            continue
        text = yaml.safe_dump(doc)
        for user, password in rendered.passwords.items():
            assert password not in text, (user, doc["kind"], doc["metadata"]["name"])


def test_inference_without_a_limiter_gets_no_redis_url() -> None:
    text = template_text(extra=("--set", "inference.rateLimit="))
    (inference,) = [
        d
        for d in yaml.safe_load_all(text)
        if d and d["kind"] == "Deployment" and d["metadata"]["name"] == f"{PREFIX}-inference"
    ]
    names = {e["name"] for e in inference["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert not {n for n in names if "REDIS" in n}, names
