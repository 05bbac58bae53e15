"""The batch API and workers score a 10^6-row job through the gateway on real kubelets,
with a worker pod killed mid-job (deleted with a one-second grace right after the job is
accepted: the chunk it scores is cut off and must be re-queued once its lease runs out):
the results hold every input row exactly once (row numbers 1..N unique and complete, ids
in input order)."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tests.kind.cluster import Cluster, port_forward
from tests.kind.outside import GATEWAY_NS, GATEWAY_SVC, api_key, pods_of, rows_exactly_once

ROWS = 1_000_000
FINAL = ("succeeded", "failed", "cancelled")
ID = "loan_id"


def book(rows: int, seed: int = 14) -> bytes:
    rng = np.random.default_rng(seed)
    table = pa.table(
        {
            ID: [f"k{n:07d}" for n in range(rows)],
            "student": rng.choice(np.array(["No", "Yes"]), rows, p=[0.7, 0.3]),
            "balance": np.round(np.clip(rng.normal(835, 480, rows), 0, None), 2),
            "income": np.round(np.clip(rng.normal(33500, 13300, rows), 800, None), 2),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, row_group_size=50_000)
    return sink.getvalue()


def test_million_rows_exactly_once_with_a_worker_killed(cluster: Cluster) -> None:
    key = api_key(cluster)
    body = book(ROWS)
    worker = cluster.name_of("batch-worker")
    timings: dict[str, float] = {}
    with port_forward(cluster, GATEWAY_NS, GATEWAY_SVC, 80) as url:
        client = httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=300)
        started = time.monotonic()
        submitted = client.post(
            "/api/v1/jobs",
            content=body,
            params={"id_column": ID},
            headers={"Content-Type": "application/vnd.apache.parquet"},
        )
        assert submitted.status_code == 202, submitted.text
        job = submitted.json()["job_id"]
        timings["submit_s"] = time.monotonic() - started
        # 10^6 rows score in seconds here (5 chunks, ~250k rows/s): the worker is killed as
        # soon as the job is accepted, while it scores the first chunks
        pods = [p for p in pods_of(cluster, worker) if p["status"].get("phase") == "Running"]
        assert pods, "no running batch worker"
        killed = pods[0]["metadata"]["name"]
        cluster.kubectl("delete", "pod", killed, "--grace-period=1", "--wait=false")
        killed_at = datetime.now(UTC)
        status: dict[str, Any] = client.get(f"/api/v1/jobs/{job}").json()
        timings["rows_done_at_kill"] = int(status.get("rows_done") or 0)
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline and status.get("state") not in FINAL:
            status = client.get(f"/api/v1/jobs/{job}", params={"wait": 5}).json()
        timings["job_s"] = time.monotonic() - started
        assert status.get("finished_at"), status
        finished = datetime.fromisoformat(str(status["finished_at"]))
        assert finished > killed_at, f"the job ended before the worker was killed: {status}"
        assert status.get("state") == "succeeded", status
        assert status["rows_total"] == status["rows_done"] == ROWS, status
        fetched = client.get(f"/api/v1/jobs/{job}/results", params={"format": "parquet"})
        assert fetched.status_code == 200, fetched.text[:500]
        client.close()
    results = pq.read_table(pa.BufferReader(fetched.content), columns=["row", ID])
    rows = results.column("row").to_numpy()
    assert rows_exactly_once(rows.tolist(), ROWS) == (ROWS, 0, 0)
    np.testing.assert_array_equal(rows, np.arange(1, ROWS + 1))
    ids = results.column(ID).to_pylist()
    assert ids[0] == "k0000000"
    assert ids[-1] == f"k{ROWS - 1:07d}"
    assert len(set(ids)) == ROWS
    print(f"batch 10^6 rows: {timings}, worker {killed} killed")
