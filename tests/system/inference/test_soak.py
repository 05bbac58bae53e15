"""Bounded soak of one inference process (one uvicorn worker).

Measure the process's capacity flat out with ``wrk`` (the same mix the soak sends: rotating
single applicants and a 100-row bulk request every 50th request), then offer 70 % of it
open-loop for two minutes (``make soak``: ten). Every answer must be a 200 (no 5xx, no
4xx), no connection may fail, and the resident memory may grow by less than 10 % between
the end of the warm-up and the end of the run. The achieved rate must reach 80 % of the
target, or the run proved nothing (say, the shared machine was too busy). Speed itself is
never asserted.
"""

from __future__ import annotations

import threading
from functools import partial

import httpx
import pytest

from tests.integration.inference.harness import metric, parse_metrics
from tests.support.models import TrainedModel
from tests.system import profile
from tests.system.inference.loadgen import Bodies, make_bodies, run_wrk
from tests.system.inference.servers import API_KEY, AUTH, InferenceProcess, SpawnInference

pytestmark = pytest.mark.system

CAPACITY_SECONDS = profile.pick(10, 20)
WARMUP_SECONDS = profile.pick(10, 30)
SOAK_SECONDS = profile.pick(120, 600)
LOAD_FRACTION = 0.70  # of the measured capacity
MIN_ACHIEVED = 0.80  # of the target rate, or the run proves nothing
MAX_RSS_GROWTH = 0.10
CAPACITY_CONNECTIONS = 16
SOAK_CONNECTIONS = 64  # enough idle connections that the schedule never waits for one
BULK_EVERY, BULK_ROWS = 50, 100


class RssSampler:
    """Samples the server's RSS every ``interval`` seconds in a background thread."""

    def __init__(self, server: InferenceProcess, interval: float = 5.0) -> None:
        self.server, self.interval = server, interval
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(self.server.rss_bytes())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def check_bodies(server: InferenceProcess, bodies: Bodies) -> None:
    """Every body of the mix is valid, so any answer but 200 under load is a fault."""
    headers = {**AUTH, "Content-Type": "application/json"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        for body in bodies.singles:
            single = http.post("/api/v1/predict", content=body)
            assert single.status_code == 200, single.text
        bulk = http.post("/api/v1/predict/bulk", content=bodies.bulk)
        assert bulk.status_code == 200, bulk.text


def server_5xx(samples: list[tuple[str, dict[str, str], float]]) -> float:
    return sum(
        value
        for name, labels, value in samples
        if name == "http_requests_total" and labels["status"].startswith("5")
    )


@pytest.mark.timeout(CAPACITY_SECONDS + WARMUP_SECONDS + SOAK_SECONDS + 300)
def test_bounded_soak_at_70_percent_of_capacity(
    default_model: TrainedModel, spawn_inference: SpawnInference
) -> None:
    server = spawn_inference(default_model.uri, default_model.tracking_uri)
    server.wait_ready()
    bodies = make_bodies("default", n_single=512, bulk_rows=BULK_ROWS)
    check_bodies(server, bodies)
    load = partial(run_wrk, f"{server.url}/api/v1/predict", bodies, API_KEY, bulk_every=BULK_EVERY)

    capacity = load(seconds=CAPACITY_SECONDS, connections=CAPACITY_CONNECTIONS)
    print(f"capacity (flat out, {CAPACITY_CONNECTIONS} connections): {capacity.summary()}")
    assert capacity.statuses == {200: capacity.requests}, capacity.summary()
    assert not any(capacity.socket_errors.values()), capacity.summary()
    target = LOAD_FRACTION * capacity.rate
    warmup = load(seconds=WARMUP_SECONDS, connections=SOAK_CONNECTIONS, rate=target)
    print(f"warm-up: {warmup.summary()}")
    rss_start = server.rss_bytes()
    with RssSampler(server) as sampler:
        soak = load(seconds=SOAK_SECONDS, connections=SOAK_CONNECTIONS, rate=target)
    rss_end = server.rss_bytes()
    growth = rss_end / rss_start - 1
    print(f"soak: {soak.summary()}")
    print(
        f"RSS after warm-up {mib(rss_start)}, after the soak {mib(rss_end)} ({growth:+.1%}); "
        f"every 5 s: {', '.join(mib(s) for s in sampler.samples)}"
    )
    with httpx.Client(base_url=server.url, timeout=30) as http:
        served = parse_metrics(http.get("/metrics").text)
        ready = http.get("/readyz")

    assert soak.rate >= MIN_ACHIEVED * target, (
        f"achieved {soak.rate:.0f}/s, below {MIN_ACHIEVED:.0%} of the target {target:.0f}/s "
        f"({LOAD_FRACTION:.0%} of the measured capacity {capacity.rate:.0f}/s): the load was "
        f"not delivered (machine too busy, or the server slowed down), so the soak proves "
        f"nothing. {soak.summary()}"
    )
    assert soak.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 0}, soak.summary()
    assert soak.server_errors == 0, soak.summary()
    assert soak.statuses == {200: soak.requests}, soak.summary()
    assert warmup.statuses == {200: warmup.requests}, warmup.summary()
    assert server_5xx(served) == 0
    answered = metric(served, "http_requests_total", route="/api/v1/predict", status="200")
    answered += metric(served, "http_requests_total", route="/api/v1/predict/bulk", status="200")
    assert answered >= capacity.requests + warmup.requests + soak.requests
    assert ready.status_code == 200, ready.text
    assert server.alive()
    assert growth < MAX_RSS_GROWTH, (
        f"RSS grew {growth:.1%} (from {mib(rss_start)} to {mib(rss_end)}) in {SOAK_SECONDS} s "
        f"at {soak.rate:.0f}/s"
    )
