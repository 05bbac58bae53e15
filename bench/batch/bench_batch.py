"""Batch scoring benchmark: end-to-end job time next to plain in-process scoring.

For 10^6 and 10^7 synthetic applicants written as Parquet (row groups of 100,000 rows):

* in-process: one process reads the whole file (pyarrow), scores it with the same
  encoder and model code as the workers (``inplace_predict``, 2 threads) and writes one
  Parquet result file (same write options as the workers) — the rate a plain script gets;
* 1 worker (2 booster threads) and 2 workers (1 thread each): the job is submitted by
  path to the real job API and timed from the submit request until the status says
  succeeded (every chunk result written, fsynced and counted). Workers are started and
  idle beforehand (model loading is not timed). Peak RSS of each worker is sampled.

Each mode runs several times and its best time counts (the machine is shared and busy;
every run's time is kept in the results).

Run: python bench/batch/bench_batch.py [--sizes 1000000,10000000]
Writes bench/results/batch.json and bench/results/batch.md. The machine is shared and
noisy: compare the ratios of one run, not absolute figures across runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from bench.batch.harness import (  # noqa: E402
    RssSampler,
    api_server,
    job_api_env,
    model_or_quick,
    service_env,
    workers,
)
from bench.common import write_results  # noqa: E402
from tests.support.processes import RedisServer  # noqa: E402

ROW_GROUP = 100_000
CHUNK_ROWS = 200_000
REPEATS = {1_000_000: 3, 10_000_000: 2}  # jobs per mode; the best counts


def generate(path: Path, rows: int) -> Path:
    from services.core.datasets import load_config
    from services.core.synthetic import ApplicantGenerator

    generator = ApplicantGenerator.from_config(load_config("default"))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer: pq.ParquetWriter | None = None
    for frame in generator.iter_frames(rows, chunk=ROW_GROUP, seed=11):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    assert writer is not None
    writer.close()
    return path


def in_process(path: Path, out: Path, model: Any) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of reading, scoring and writing the whole file at once."""
    from services.batch.checks import dictionary_columns
    from services.batch.state.result_files import write_table
    from services.batch.worker.scoring import score_table

    sampler = RssSampler([os.getpid()])
    sampler.start()
    started = time.perf_counter()
    features = model.contract.features
    table = pq.read_table(path, read_dictionary=dictionary_columns(pq.read_schema(path), features))
    write_table(score_table(model, table), out)
    seconds = time.perf_counter() - started
    del table
    return seconds, sampler.stop()[0]


def run_job(
    api: str, path: Path, rows: int, pids: list[int], poll: float = 0.02, wait: float = 0.0
) -> dict[str, Any]:
    """Submit ``path`` and poll its status every ``poll`` seconds, or with ``wait`` ask
    the API to answer once the job has ended (long polls of up to ``wait`` seconds)."""
    sampler = RssSampler(pids)
    sampler.start()
    with httpx.Client(base_url=api, timeout=60) as http:
        started = time.perf_counter()
        job = http.post("/api/v1/jobs", json={"path": str(path)}).raise_for_status().json()
        params = {"wait": wait} if wait else {}
        while job["state"] not in ("succeeded", "failed", "cancelled"):
            if not wait:
                time.sleep(poll)
            job = http.get(f"/api/v1/jobs/{job['job_id']}", params=params)
            job = job.raise_for_status().json()
        seconds = time.perf_counter() - started
    peaks = sampler.stop()
    if job["state"] != "succeeded" or job["rows_done"] != rows:
        raise RuntimeError(f"job ended {job['state']} with {job['rows_done']} rows: {job}")
    return {
        "seconds": seconds,
        "chunks": job["chunks_total"],
        "peak_rss_mib": peaks,
        "job_id": job["job_id"],
    }


def bench_size(
    rows: int, work: Path, env: dict[str, str], redis_url: str, model: Any
) -> list[dict[str, Any]]:
    """Best of REPEATS jobs per mode, in-process timed before, between and after them."""
    path = generate(work / "store" / "inputs" / f"applicants-{rows}.parquet", rows)
    repeats = REPEATS.get(rows, 2)
    base = [in_process(path, work / "baseline.parquet", model)]
    results: list[dict[str, Any]] = []
    for n in (1, 2):
        worker_env = service_env(env, BATCH_NTHREAD=str(2 // n))
        with api_server(service_env(env)) as api, workers(n, worker_env, redis_url) as pids:
            runs = [run_job(api, path, rows, pids) for _ in range(repeats)]
        for run in runs:
            shutil.rmtree(work / "store" / "jobs" / run.pop("job_id"), ignore_errors=True)
        best = min(runs, key=lambda r: r["seconds"])
        best["peak_rss_mib"] = [max(r["peak_rss_mib"][i] for r in runs) for i in range(n)]
        best["runs_s"] = [round(r["seconds"], 2) for r in runs]
        results.append({"rows": rows, "mode": f"{n} worker{'s' * (n > 1)}", **best})
        base.append(in_process(path, work / "baseline.parquet", model))
    baseline = min(b[0] for b in base)
    path.unlink()
    rows_out = [
        {
            "rows": rows,
            "mode": "in-process (2 threads)",
            "seconds": baseline,
            "chunks": 1,
            "peak_rss_mib": [max(b[1] for b in base)],
            "runs_s": [round(b[0], 2) for b in base],
        }
    ]
    for r in [*rows_out, *results]:
        r["rows_per_s"] = round(rows / r["seconds"])
        r["vs_in_process"] = f"{baseline / r['seconds']:.0%}"
        r["seconds"] = round(r["seconds"], 2)
    return rows_out + results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--model-uri", help="use this model (default: train a quick one)")
    parser.add_argument("--tracking-uri", default="")
    args = parser.parse_args()
    from services.core.model_store import load_model

    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        work = Path(tmp)
        model_uri, tracking = model_or_quick(args.model_uri, args.tracking_uri, work)
        model = load_model(model_uri, tracking, nthread=2)
        redis = RedisServer(work / "redis").start()
        env = job_api_env(model_uri, tracking, redis.url, work, CHUNK_ROWS)
        rows: list[dict[str, Any]] = []
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                rows += bench_size(size, work, env, redis.url, model)
                print(rows[-3:], flush=True)
        finally:
            redis.stop()
    notes = (
        "End-to-end job time (submit by path → every chunk result written) next to plain "
        "in-process scoring of the same file in the same run. Every mode runs several times "
        f"({REPEATS[1_000_000]} at 10^6, {REPEATS[10_000_000]} at 10^7 rows; in-process "
        "before, between and after the worker runs) and its best time counts — the machine "
        f"is shared, `runs_s` lists every run. Row groups of {ROW_GROUP:,} rows, chunks of "
        f"{CHUNK_ROWS:,} rows, results fsynced. Targets: ≥ 50 % of the in-process rate at "
        "10^6 rows, ≥ 90 % with two workers at 10^7 rows. Peak RSS: resident memory of each "
        "worker process (of the benchmark process for in-process), sampled every 50 ms "
        "during the job; a worker holds one chunk, in-process holds the whole file. One "
        "worker reads, scores and writes each chunk in turn while its booster uses both "
        "cores; with two workers (one booster thread each) one worker's reading and writing "
        "overlaps the other's scoring."
    )
    columns = [
        "rows",
        "mode",
        "seconds",
        "rows_per_s",
        "vs_in_process",
        "chunks",
        "peak_rss_mib",
        "runs_s",
    ]
    print(write_results("batch", rows, columns, notes))


if __name__ == "__main__":
    main()
