"""Batch scoring beside a peer: our job API with two workers vs Dask's threaded scheduler.

The same Parquet input (10^7 synthetic applicants by default, row groups of 100,000 rows,
generated once and cached under .cache/bench/batch/) is scored with the same booster:

* ours: submitted by path to the real job API (real Redis, two rq workers with one booster
  thread each, chunks of 200,000 rows, reason codes off), timed from the submit request
  until the status says succeeded (every chunk result written and fsynced). Workers are
  started and idle beforehand; model loading is not timed.
* Dask: ``bench/batch/dask_runner.py`` in Dask's own virtualenv (``scripts/bench/
  dask-venv.sh``: the same xgboost, pandas, pyarrow and numpy, dask[dataframe] pinned),
  ``read_parquet`` (two row groups = 200,000 rows per partition) → ``map_partitions``
  (encode, ``inplace_predict``, calibrate, threshold, band) → ``to_parquet`` on the
  threaded scheduler with two threads, one booster thread each. Imports and booster
  loading are not timed.

Both write probability, prediction and risk band per row (ours also the row number and
model version). The outputs are compared row by row (our ``row`` column against Dask's
partition order): a probability differing by more than 1e-6 fails the run. Peak RSS of
each of our workers and of the Dask process is sampled every 50 ms.

Rounds alternate which side goes first; each side's best round counts (``runs_s`` has
every round). Run under the shared lock, e.g.
``flock /tmp/bench.lock python3 bench/batch/bench_peers.py [--rows 10000000] [--rounds 1]``.
Writes bench/results/batch_peers.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from redis import Redis  # noqa: E402

from bench.batch.bench_batch import CHUNK_ROWS, ROW_GROUP, generate, run_job  # noqa: E402
from bench.batch.harness import (  # noqa: E402
    RssSampler,
    api_server,
    job_api_env,
    model_or_quick,
    service_env,
    workers,
)
from bench.batch.timeline import breakdown, markdown, task_times  # noqa: E402
from bench.common import write_results  # noqa: E402
from tests.support.processes import RedisServer  # noqa: E402

INPUTS = ROOT / ".cache" / "bench" / "batch"
RUNNER = Path(__file__).resolve().parent / "dask_runner.py"
TOLERANCE = 1e-6
WORKERS = 2
RSS_LIMIT_MIB = 600
WAIT_SECONDS = 30.0  # the client's status requests wait for the job's end (long polls)


def cpu_by_role() -> dict[str, float]:
    """CPU seconds (user + system) so far of this benchmark's processes, by role: the
    workers (with the scheduler each forks), the API, Redis, and this process."""
    me = psutil.Process()
    totals = {"workers": 0.0, "api": 0.0, "redis": 0.0, "client": sum(me.cpu_times()[:2])}
    for proc in me.children(recursive=True):
        try:
            cmd = " ".join(proc.cmdline())
            used = sum(proc.cpu_times()[:2])
        except psutil.Error:
            continue
        role = "redis" if "redis-server" in cmd else "api" if " api " in f"{cmd} " else "workers"
        if "dask_runner" not in cmd:
            totals[role] += used
    return totals


def run_ours(api: str, redis_url: str, path: Path, rows: int, pids: list[int]) -> dict[str, Any]:
    before = cpu_by_role()
    submitted = time.time()
    run = run_job(api, path, rows, pids, wait=WAIT_SECONDS)
    after = cpu_by_role()
    run["cpu_s"] = {role: round(after[role] - before[role], 2) for role in before}
    tasks = task_times(Redis.from_url(redis_url), run["job_id"], run["chunks"])
    run["timeline"] = breakdown(tasks, submitted, submitted + run["seconds"])
    return run


def cached_input(rows: int) -> Path:
    """The input file of ``rows`` applicants, generated on first use (seed 11)."""
    path = INPUTS / f"applicants-{rows}.parquet"
    if not path.exists():
        tmp = generate(path.with_suffix(".tmp"), rows)
        tmp.rename(path)
    return path


def dask_python() -> Path:
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "bench" / "dask-venv.sh")],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip().splitlines()[-1])


def write_spec(model: Any, work: Path) -> Path:
    """The booster file and what the peer needs of the contract to score like we do."""
    booster = work / "booster.ubj"
    model.booster.save_model(booster)
    contract = model.contract
    spec = {
        "booster": str(booster),
        "features": [
            {"name": f.name, "levels": list(f.levels or []) if f.is_categorical else None}
            for f in contract.features
        ],
        "calibration": contract.calibration.model_dump(),
        "threshold": contract.threshold,
        "risk_bands": [band.model_dump() for band in contract.risk_bands],
    }
    path = work / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def run_dask(python: Path, spec: Path, path: Path, out: Path, chunk_rows: int) -> dict[str, Any]:
    shutil.rmtree(out, ignore_errors=True)
    proc = subprocess.Popen(
        [
            *(str(python), str(RUNNER), str(spec), str(path), str(out)),
            *("--workers", str(WORKERS), "--row-groups", str(max(1, chunk_rows // ROW_GROUP))),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    sampler = RssSampler([proc.pid])
    sampler.start()
    stdout, _ = proc.communicate(timeout=1800)
    peak = sampler.stop()
    if proc.returncode:
        raise RuntimeError(f"dask runner exited {proc.returncode}")
    report = json.loads(stdout.strip().splitlines()[-1])
    return {**report, "peak_rss_mib": [max(peak[0], report["peak_rss_mib"])]}


def our_probabilities(results: Path, rows: int) -> np.ndarray:
    """Probabilities in input row order, checking every row 1..rows is there once."""
    table = pq.read_table(sorted(results.glob("part-*.parquet")), columns=["row", "probability"])
    row = table.column("row").to_numpy()
    order = np.argsort(row, kind="stable")
    if not np.array_equal(row[order], np.arange(1, rows + 1)):
        raise RuntimeError("our results do not hold each input row exactly once")
    return table.column("probability").to_numpy()[order]


def dask_probabilities(out: Path) -> np.ndarray:
    """Probabilities in input row order: Dask names its files part.<partition>.parquet."""
    files = sorted(out.glob("part.*.parquet"), key=lambda p: int(p.name.split(".")[1]))
    return pq.read_table(files, columns=["probability"]).column("probability").to_numpy()


def compare(ours: np.ndarray, theirs: np.ndarray) -> dict[str, Any]:
    if len(ours) != len(theirs):
        raise RuntimeError(f"row counts differ: ours {len(ours)}, Dask {len(theirs)}")
    diff = np.abs(ours - theirs)
    worst = float(diff.max()) if len(diff) else 0.0
    if not worst <= TOLERANCE:  # NaN fails too
        bad = int(np.count_nonzero(~(diff <= TOLERANCE)))
        raise RuntimeError(f"{bad} probabilities differ by more than {TOLERANCE} (max {worst})")
    return {"rows": len(ours), "max_abs_diff": worst, "identical": int(np.sum(ours == theirs))}


def stage_cpu(
    model: Any, path: Path, chunk_rows: int = CHUNK_ROWS, rows: int = 1_000_000
) -> dict[str, float]:
    """Where a worker's CPU goes: CPU seconds per stage of ``run_chunk`` over the file's
    first ``rows`` rows, in this process, chunk by chunk as a worker scores them."""
    from services.batch.checks import check_frame
    from services.batch.formats.parquet import plan_parquet
    from services.batch.state.result_files import write_result
    from services.batch.worker.chunk import read_chunk
    from services.batch.worker.scoring import score_frame, summarise
    from services.core.encoding import encode_frame

    spent: dict[str, float] = {}

    def timed(stage: str, work: Callable[..., Any], *args: Any) -> Any:
        started = time.process_time()
        out = work(*args)
        spent[stage] = spent.get(stage, 0.0) + time.process_time() - started
        return out

    features = model.contract.features
    names = [f.name for f in features]
    specs = plan_parquet(path, chunk_rows) or []
    model.probabilities(encode_frame(features, read_chunk(model, specs[0], None).to_pandas()))
    done = 0
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as tmp:
        for spec in specs:
            if done >= rows:
                break
            table = timed("read", read_chunk, model, spec, None)
            frame = timed("to_pandas", table.select(names).to_pandas)
            timed("validate", check_frame, frame, features, spec.offset)
            score = "score (encode, predict, result table)"
            result = timed(score, score_frame, model, frame, spec.offset + 1)
            summary = timed("summarise", summarise, result, "bench", model.version)
            out = Path(tmp) / f"part-{spec.index}.parquet"
            timed("write + fsync", write_result, out, result, summary, True)
            timed("of which predict", model.probabilities, encode_frame(features, frame))
            done += spec.rows
    return {stage: round(seconds * 1_000_000 / done, 3) for stage, seconds in spent.items()}


def bench(
    rows: int, rounds: int, work: Path, model_uri: str, tracking: str, chunk_rows: int
) -> dict[str, Any]:
    from services.core.model_store import load_model

    path = cached_input(rows)
    python = dask_python()
    model = load_model(model_uri, tracking, nthread=1)
    spec = write_spec(model, work)
    redis = RedisServer(work / "redis").start()
    env = job_api_env(model_uri, tracking, redis.url, work, chunk_rows, [INPUTS])
    ours: list[dict[str, Any]] = []
    theirs: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    try:
        worker_env = service_env(env, BATCH_NTHREAD="1")
        with api_server(service_env(env)) as api, workers(WORKERS, worker_env, redis.url) as pids:
            for i in range(rounds):
                order = ("ours", "dask") if i % 2 == 0 else ("dask", "ours")
                for side in order:
                    if side == "ours":
                        ours.append(run_ours(api, redis.url, path, rows, pids))
                    else:
                        theirs.append(run_dask(python, spec, path, work / "dask-out", chunk_rows))
                    time.sleep(1)  # let the page cache writeback of one side settle
                job = work / "store" / "jobs" / ours[-1]["job_id"]
                checks.append(
                    compare(
                        our_probabilities(job / "results", rows),
                        dask_probabilities(work / "dask-out"),
                    )
                )
                for run in ours:
                    shutil.rmtree(work / "store" / "jobs" / run["job_id"], ignore_errors=True)
    finally:
        redis.stop()
    stages = stage_cpu(model, path, chunk_rows)
    return {"ours": ours, "dask": theirs, "checks": checks, "stages": stages}


def summarise(rows: int, runs: dict[str, Any]) -> list[dict[str, Any]]:
    ours = min(runs["ours"], key=lambda r: r["seconds"])
    dask = min(runs["dask"], key=lambda r: r["seconds"])
    out = [
        {
            "rows": rows,
            "side": f"job API, {WORKERS} workers (1 thread each)",
            "version": "this repo",
            "seconds": ours["seconds"],
            "chunks": ours["chunks"],
            "cpu_s": ours["cpu_s"],
            "peak_rss_mib": [max(r["peak_rss_mib"][i] for r in runs["ours"]) for i in range(2)],
            "runs_s": [round(r["seconds"], 2) for r in runs["ours"]],
        },
        {
            "rows": rows,
            "side": f"Dask threaded, {WORKERS} threads (1 booster thread each)",
            "version": f"dask {dask['dask']}",
            "seconds": dask["seconds"],
            "chunks": dask["partitions"],
            "cpu_s": {"dask": dask["cpu_s"]},
            "peak_rss_mib": [max(r["peak_rss_mib"][0] for r in runs["dask"])],
            "runs_s": [round(r["seconds"], 2) for r in runs["dask"]],
        },
    ]
    for r in out:
        r["rows_per_s"] = round(rows / r["seconds"])
        r["vs_dask"] = round(dask["seconds"] / r["seconds"], 2)
        r["seconds"] = round(r["seconds"], 2)
    out[0]["stage_cpu_s_per_1m_rows"] = runs["stages"]
    out[0]["timeline"] = ours["timeline"]
    check = runs["checks"][-1]
    out[0]["outputs_equal"] = out[1]["outputs_equal"] = (
        f"max |Δp| {check['max_abs_diff']:.1e}, {check['identical']:,}/{check['rows']:,} identical"
    )
    out[0]["target"] = (
        f"≥ 1.00× Dask rows/s {'✔' if out[0]['vs_dask'] >= 1 else '✘'}, worker RSS ≤ "
        f"{RSS_LIMIT_MIB} MiB {'✔' if max(out[0]['peak_rss_mib']) <= RSS_LIMIT_MIB else '✘'}"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--rounds", type=int, default=1, help="alternating rounds per side")
    parser.add_argument("--model-uri", help="use this model (default: train a quick one)")
    parser.add_argument("--tracking-uri", default="")
    parser.add_argument("--name", default="batch_peers", help="results file name")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="ours; Dask alike")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        work = Path(tmp)
        model_uri, tracking = model_or_quick(args.model_uri, args.tracking_uri, work)
        runs = bench(args.rows, args.rounds, work, model_uri, tracking, args.chunk_rows)
    rows = summarise(args.rows, runs)
    print(json.dumps(rows, indent=1), flush=True)
    notes = (
        "Our job API with two workers next to Dask's threaded scheduler (two threads) "
        "scoring the same Parquet file (row groups of "
        f"{ROW_GROUP:,} rows) with the same booster in the same run: read → score → write. "
        f"Ours: submit by path → every chunk result written and fsynced ({args.chunk_rows:,}-row "
        "chunks, real Redis and rq workers, started beforehand). Dask: read_parquet → "
        "map_partitions(encode, inplace_predict, calibrate, threshold, band) → to_parquet, "
        f"{args.chunk_rows:,}-row partitions, timed inside its process after imports and "
        "booster loading; it runs in its own virtualenv with the same xgboost, pandas, "
        "pyarrow and numpy. Outputs are compared row by row: any probability off by more "
        f"than {TOLERANCE:g} fails the run. Peak RSS sampled every 50 ms (each worker; the "
        "Dask process). Rounds alternate which side goes first; the best round per side "
        "counts, `runs_s` lists every round. `cpu_s`: CPU seconds (user + system) of the "
        "best round by process (ours: the workers, the API answering the client's status "
        "requests, which wait for the job's end (`?wait=`), Redis, and the benchmark client "
        "sampling RSS). "
        "Target: ours ≥ Dask rows/s at 10^7 rows, "
        f"worker RSS ≤ {RSS_LIMIT_MIB} MiB."
    )
    columns = [
        "rows",
        "side",
        "version",
        "seconds",
        "rows_per_s",
        "vs_dask",
        "chunks",
        "cpu_s",
        "peak_rss_mib",
        "runs_s",
        "outputs_equal",
        "target",
    ]
    stages = rows[0]["stage_cpu_s_per_1m_rows"]
    after = (
        "Where a worker's CPU goes (CPU seconds per 10^6 rows, each stage of `run_chunk` "
        f"timed in the benchmark process over the input's first 10^6 rows, {args.chunk_rows:,}-"
        "row chunks, one booster thread; the workers' CPU in the table above adds Redis and "
        "rq per task):\n\n| stage | CPU s / 10^6 rows |\n|---|---|\n"
        + "\n".join(f"| {stage} | {seconds} |" for stage, seconds in stages.items())
        + f"\n| total (without the predict line) | "
        f"{round(sum(v for k, v in stages.items() if k != 'of which predict'), 3)} |"
        + "\n\n"
        + markdown(rows[0]["timeline"])
        + "\n\n'rest of tasks': a task's time in rq (start → end) outside `run_chunk` (job "
        "state calls, model look-up); 'gaps': a task's end → the same worker's next start "
        "(rq's bookkeeping and dequeue); 'tail': its last task's end → the client seeing the "
        "job done (a status request waiting for the end; below 0 when the client heard of the "
        "end before rq stamped the last task's end). Load average at the end: "
        + ", ".join(f"{x:.2f}" for x in os.getloadavg())
        + "."
    )
    print(write_results(args.name, rows, columns, notes, after))


if __name__ == "__main__":
    main()
