"""The decision record of a real inference process (``python -m services.inference``) on a
real PostgreSQL: SIGTERM writes every queued decision before the process exits, and a
PostgreSQL restart in the middle of the load loses no accepted decision (the spool takes
them and is replayed and emptied once the database is back)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.integration.inference.harness import applicants, metric, parse_metrics
from tests.support.models import TrainedModel
from tests.support.postgres import PostgresServer
from tests.support.waits import wait_for
from tests.system.inference.servers import ADMIN, AUTH, InferenceProcess

pytestmark = pytest.mark.system


@pytest.fixture
def inference(
    tmp_path: Path, default_model: TrainedModel, postgres: PostgresServer
) -> Iterator[InferenceProcess]:
    server = InferenceProcess(tmp_path, default_model.uri, default_model.tracking_uri)
    server.env.update(
        DECISIONS_DSN=postgres.dsn,
        DECISIONS_SPOOL_DIR=str(tmp_path / "spool"),
        DECISIONS_RETRY_SECONDS="0.5",
        DECISIONS_CONNECT_TIMEOUT_SECONDS="1",
    )
    yield server
    server.stop()
    print(server.tail())


def spooled_now(server: InferenceProcess) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=30).text
    return metric(parse_metrics(text), "decisions_spooled_total")


def stored(dsn: str) -> dict[str, int]:
    """Decisions per request id in the table."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT request_id, count(*) FROM decisions GROUP BY 1").fetchall()
    return {r[0]: r[1] for r in rows}


def test_sigterm_writes_every_queued_decision(
    inference: InferenceProcess, postgres: PostgresServer
) -> None:
    # decisions wait in memory up to 30 s: whatever is stored came from the shutdown flush
    inference.env.update(DECISIONS_FLUSH_SECONDS="30", DECISIONS_BATCH_ROWS="100000")
    inference.start().wait_ready()
    rows = applicants("default", 20, seed=1)
    accepted: dict[str, int] = {}
    with httpx.Client(base_url=inference.url, timeout=30) as http:
        for i in range(200):
            rid = f"term-{i}"
            if i % 10 == 9:
                r = http.post(
                    "/api/v1/predict/bulk",
                    json={"applicants": rows[:5]},
                    headers={**AUTH, "X-Request-ID": rid},
                )
                n = 5
            else:
                r = http.post(
                    "/api/v1/predict", json=rows[i % 20], headers={**AUTH, "X-Request-ID": rid}
                )
                n = 1
            assert r.status_code == 200, r.text
            accepted[rid] = n
        queued = metric(parse_metrics(http.get("/metrics").text), "decisions_queue_rows")
    assert queued > 0, "nothing was waiting in memory: the test would prove nothing"
    inference.stop()  # SIGTERM, then waits for the exit
    assert stored(postgres.dsn) == accepted
    assert "decisions not written at shutdown" not in inference.log.read_text()


def test_postgres_restart_mid_load_loses_no_accepted_decision(
    inference: InferenceProcess, postgres: PostgresServer
) -> None:
    inference.env.update(DECISIONS_FLUSH_SECONDS="0.05")
    inference.start().wait_ready()
    rows = applicants("default", 50, seed=2)
    accepted: list[str] = []
    stop = threading.Event()
    failures: list[str] = []

    def load(client: int) -> None:
        with httpx.Client(base_url=inference.url, timeout=30) as http:
            i = 0
            while not stop.is_set():
                rid = f"load-{client}-{i}"
                r = http.post(
                    "/api/v1/predict", json=rows[i % 50], headers={**AUTH, "X-Request-ID": rid}
                )
                if r.status_code == 200:
                    accepted.append(rid)
                else:
                    failures.append(r.text)
                i += 1

    clients = [threading.Thread(target=load, args=(n,)) for n in range(2)]
    for c in clients:
        c.start()
    try:
        wait_for("decisions accepted before the outage", lambda: len(accepted) >= 50, 60)
        postgres.stop()
        wait_for(  # the outage: decisions keep being accepted, into the spool
            "decisions spooled during the outage",
            lambda: spooled_now(inference) >= 50,
            60,
            0.2,
        )
        during = len(accepted)
        postgres.start()
        wait_for("decisions accepted after the outage", lambda: len(accepted) >= during + 50, 60)
    finally:
        stop.set()
        for c in clients:
            c.join()
    assert not failures, failures[:3]
    with httpx.Client(base_url=inference.url, timeout=30) as http:
        deadline = time.monotonic() + 30
        while True:
            samples = parse_metrics(http.get("/metrics").text)
            spooled = metric(samples, "decisions_spooled_total")
            replayed = metric(samples, "decisions_replayed_total")
            idle = metric(samples, "decisions_queue_rows") == 0
            if idle and replayed == spooled and metric(samples, "decisions_spool_bytes") == 0:
                break
            assert time.monotonic() < deadline, (spooled, replayed, inference.tail())
            time.sleep(0.2)
        assert spooled > 0, "the outage spooled nothing: the test would prove nothing"
        assert metric(samples, "decisions_lost_total", reason="spool_full") == 0
        # the look-up finds a decision accepted during the outage
        found = http.get(f"/api/v1/decisions/{accepted[during - 1]}", headers=ADMIN)
        assert found.status_code == 200, found.text
    assert list((inference.workdir / "spool").glob("*.jsonl")) == []
    assert stored(postgres.dsn) == dict.fromkeys(accepted, 1)
