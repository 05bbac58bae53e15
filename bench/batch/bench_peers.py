"""Batch scoring beside a peer: our job API with two workers vs Dask's threaded scheduler.

The same Parquet input (10^7 synthetic applicants by default, row groups of 100,000 rows,
generated once and cached under .cache/bench/batch/) is scored with the same booster:

* ours: submitted by path to the real job API (real Redis, two rq workers with one booster
  thread each, chunks as the API sizes them at submit: ``services/batch/sizing.py``,
  500,000 rows at 10^7; reason codes off), timed from the submit request until the status
  says succeeded (every chunk result written and fsynced). Workers are started and idle
  beforehand; model loading is not timed. The workers evaluate the booster once per group
  of rows every tree treats alike (``LoadedModel.probabilities_of_many``: exact, the
  outputs are compared below).
* Dask: ``bench/batch/dask_runner.py`` in Dask's own virtualenv (``scripts/bench/
  dask-venv.sh``: the same xgboost, pandas, pyarrow and numpy, dask[dataframe] pinned),
  ``read_parquet`` (partitions of 200,000 rows and of our chunk size, each round: the best
  counts) → ``map_partitions``
  (encode, ``inplace_predict``, calibrate, threshold, band) → ``to_parquet`` on the
  threaded scheduler with two threads, one booster thread each. Imports and booster
  loading are not timed.

Both write probability, prediction and risk band per row; ours also the row number and
model version, and fsyncs each chunk's file (the product's durability), Dask neither (the
results say so, with each side's files and bytes). The three shared columns are compared
row by row (our ``row`` column against Dask's partition order): a probability differing
by more than 1e-6, or any prediction or band differing, fails the run. Peak RSS of each of
our workers and of the Dask process is sampled every 50 ms. After the rounds each side's
CPU per stage is profiled (``profile_peers.py``) over the first 10^6 rows.

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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psutil  # noqa: E402
import pyarrow as pa  # noqa: E402
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
from bench.batch.profile_peers import dask_stages, our_stages  # noqa: E402
from bench.batch.timeline import breakdown, markdown, task_times  # noqa: E402
from bench.common import write_results  # noqa: E402
from tests.support.processes import RedisServer  # noqa: E402

INPUTS = ROOT / ".cache" / "bench" / "batch"
RUNNER = Path(__file__).resolve().parent / "dask_runner.py"
TOLERANCE = 1e-6
WORKERS = 2
RSS_LIMIT_MIB = 600
STAGE_ROWS = 1_000_000  # rows each side's stages are profiled over, after the rounds
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


def partition_sizes(rows: int, chunk_rows: int) -> list[int]:
    """Dask's partition sizes tried each round: the configured ``chunk_rows`` and the
    chunk size our submit picks for this input (``chunk_rows_for`` with the default
    settings), so neither side runs with a partitioning the other was denied; Dask's best
    round over both counts."""
    from services.batch.settings import BatchSettings
    from services.batch.sizing import chunk_rows_for

    fields = BatchSettings.model_fields
    ours = chunk_rows_for(
        rows, chunk_rows, fields["max_chunk_rows"].default, fields["min_chunks"].default
    )
    return sorted({chunk_rows, ours})


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
    peak_mib = [max(peak[0], report["peak_rss_mib"])]
    return {**report, "peak_rss_mib": peak_mib, "partition_rows": chunk_rows}


SHARED = ["probability", "prediction", "risk_band"]  # the columns both sides write
ASIDE = ("pandas path", "every row")  # profiled stages the worker's path does not take


def _columns(table: pa.Table) -> dict[str, np.ndarray]:
    band = table.column("risk_band").combine_chunks()
    names = band.dictionary.to_numpy(zero_copy_only=False).astype(str)
    return {
        "probability": table.column("probability").to_numpy(),
        "prediction": table.column("prediction").to_numpy(),
        "risk_band": names[band.indices.to_numpy(zero_copy_only=False)],
    }


def our_outputs(results: Path, rows: int) -> dict[str, np.ndarray]:
    """The shared columns in input row order, checking every row 1..rows is there once."""
    table = pq.read_table(sorted(results.glob("part-*.parquet")), columns=["row", *SHARED])
    row = table.column("row").to_numpy()
    order = np.argsort(row, kind="stable")
    if not np.array_equal(row[order], np.arange(1, rows + 1)):
        raise RuntimeError("our results do not hold each input row exactly once")
    return {name: values[order] for name, values in _columns(table).items()}


def dask_outputs(out: Path) -> dict[str, np.ndarray]:
    """The shared columns in input row order: Dask names its files part.<partition>.parquet."""
    files = sorted(out.glob("part.*.parquet"), key=lambda p: int(p.name.split(".")[1]))
    return _columns(pq.read_table(files, columns=SHARED))


def output_files(results: Path, pattern: str) -> dict[str, Any]:
    files = list(results.glob(pattern))
    schema = pq.read_schema(files[0]) if files else None
    return {
        "files": len(files),
        "mib": round(sum(f.stat().st_size for f in files) / 2**20, 1),
        "columns": [n for n in schema.names if not n.startswith("__")] if schema else [],
    }


def compare(ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray]) -> dict[str, Any]:
    """Every column both write, row by row: probabilities within TOLERANCE, the
    prediction and the risk band equal."""
    n_ours, n_theirs = len(ours["probability"]), len(theirs["probability"])
    if n_ours != n_theirs:
        raise RuntimeError(f"row counts differ: ours {n_ours}, Dask {n_theirs}")
    diff = np.abs(ours["probability"] - theirs["probability"])
    worst = float(diff.max()) if len(diff) else 0.0
    if not worst <= TOLERANCE:  # NaN fails too
        bad = int(np.count_nonzero(~(diff <= TOLERANCE)))
        raise RuntimeError(f"{bad} probabilities differ by more than {TOLERANCE} (max {worst})")
    for name in ("prediction", "risk_band"):
        unequal = int(np.count_nonzero(ours[name] != theirs[name]))
        if unequal:
            raise RuntimeError(f"{unequal} rows differ in {name}")
    identical = int(np.sum(ours["probability"] == theirs["probability"]))
    return {"rows": n_ours, "max_abs_diff": worst, "identical": identical}


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
                        for size in partition_sizes(rows, chunk_rows):
                            theirs.append(run_dask(python, spec, path, work / "dask-out", size))
                    time.sleep(1)  # let the page cache writeback of one side settle
                job = work / "store" / "jobs" / ours[-1]["job_id"]
                checks.append(
                    {
                        **compare(
                            our_outputs(job / "results", rows), dask_outputs(work / "dask-out")
                        ),
                        "ours": output_files(job / "results", "part-*.parquet"),
                        "dask": output_files(work / "dask-out", "part.*.parquet"),
                    }
                )
                for run in ours:
                    shutil.rmtree(work / "store" / "jobs" / run["job_id"], ignore_errors=True)
    finally:
        redis.stop()
    size = partition_sizes(rows, chunk_rows)[-1]  # our chunk size for this input
    stages = {
        "ours": our_stages(model, path, size, STAGE_ROWS),
        "dask": dask_stages(python, spec, path, size, STAGE_ROWS)["cpu_s_per_1m_rows"],
    }
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
            "side": f"Dask threaded, {WORKERS} threads (1 booster thread each), "
            f"{dask['partition_rows']:,}-row partitions",
            "version": f"dask {dask['dask']} ({dask['libraries']})",
            "seconds": dask["seconds"],
            "chunks": dask["partitions"],
            "cpu_s": {"dask": dask["cpu_s"]},
            "peak_rss_mib": [max(r["peak_rss_mib"][0] for r in runs["dask"])],
            "runs_s": {
                f"{size:,}-row partitions": [
                    round(r["seconds"], 2) for r in runs["dask"] if r["partition_rows"] == size
                ]
                for size in sorted({r["partition_rows"] for r in runs["dask"]})
            },
        },
    ]
    for r in out:
        r["rows_per_s"] = round(rows / r["seconds"])
        r["vs_dask"] = round(dask["seconds"] / r["seconds"], 2)
        r["seconds"] = round(r["seconds"], 2)
    out[0]["stage_cpu_s_per_1m_rows"] = runs["stages"]["ours"]
    out[1]["stage_cpu_s_per_1m_rows"] = runs["stages"]["dask"]
    out[0]["timeline"] = ours["timeline"]
    check = runs["checks"][-1]
    out[0]["outputs_equal"] = out[1]["outputs_equal"] = (
        f"{', '.join(SHARED)}: max |Δp| {check['max_abs_diff']:.1e}, "
        f"{check['identical']:,}/{check['rows']:,} probabilities identical, prediction and "
        "band equal on every row"
    )
    for r, side, durable in ((out[0], "ours", "each file fsynced"), (out[1], "dask", "no fsync")):
        files = check[side]
        r["writes"] = (
            f"{len(files['columns'])} columns ({', '.join(files['columns'])}), "
            f"{files['files']} files, {files['mib']} MiB, {durable}"
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
    sizes = partition_sizes(args.rows, args.chunk_rows)
    notes = (
        "Our job API with two workers next to Dask's threaded scheduler (two threads) "
        "scoring the same Parquet file (row groups of "
        f"{ROW_GROUP:,} rows) with the same booster in the same run: read → score → write. "
        "Ours: submit by path → every chunk result written and fsynced (real Redis and rq "
        "workers, started beforehand; chunk size as the job API picks it at submit, "
        f"`chunk_rows` {args.chunk_rows:,} grown for a long input up to `max_chunk_rows` "
        "while the job keeps ≥ `min_chunks` chunks: "
        f"{sizes[-1]:,} rows here, the last chunks cut finer). Dask: read_parquet → "
        "map_partitions(encode, inplace_predict, calibrate, threshold, band) → to_parquet, "
        f"run each round with {' and with '.join(f'{n:,}' for n in sizes)}-row partitions "
        "(its best round over both counts), timed inside its process after imports and "
        "booster loading; it runs in its own virtualenv with the same xgboost, pandas, "
        "pyarrow and numpy. Outputs are compared row by row: any probability off by more "
        f"than {TOLERANCE:g} fails the run. Peak RSS sampled every 50 ms (each worker; the "
        "Dask process). Rounds alternate which side goes first; the best round per side "
        "counts, `runs_s` lists every round. `cpu_s`: CPU seconds (user + system) of the "
        "best round by process (ours: the workers, the API answering the client's status "
        "requests, which wait for the job's end (`?wait=`), Redis, and the benchmark client "
        "sampling RSS). "
        "Ours evaluates the booster once per group of rows that every tree treats alike "
        "(rows in the same interval between split thresholds of every feature: the same "
        "leaves, so bit-identical margins; `LoadedModel.probabilities_of_many`), Dask "
        "every row, as `inplace_predict` does. "
        "What each side writes differs (column `writes`): ours the product's result "
        "files (row number, probability, prediction, risk band, model version; each chunk "
        "file fsynced before the chunk counts as done), Dask the three scored columns "
        "(probability, prediction, risk band) without fsync, as a plain script would; the "
        "comparison covers the three columns both write. "
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
        "writes",
        "target",
    ]
    ours_stages = rows[0]["stage_cpu_s_per_1m_rows"]
    dask_stage_rows = rows[1]["stage_cpu_s_per_1m_rows"]
    path_total = sum(v for k, v in ours_stages.items() if not k.startswith(ASIDE))
    after = (
        "Where each side's CPU goes, stage by stage (`bench/batch/profile_peers.py`: CPU "
        f"seconds per 10^6 rows over the input's first {STAGE_ROWS:,} rows, "
        f"{sizes[-1]:,}-row chunks, one booster thread, one process per side after the "
        "rounds; ours: the stages of `run_chunk`, without rq and Redis per task (the "
        "timeline below has them); Dask: its sync scheduler, to_parquet with the scheduler "
        "being the rest of the whole run):\n\n"
        "| ours: stage of run_chunk | CPU s / 10^6 rows |\n|---|---|\n"
        + "\n".join(f"| {stage} | {seconds} |" for stage, seconds in ours_stages.items())
        + f"\n| total (Arrow path, without the 'every row' and pandas lines) | "
        f"{round(path_total, 4)} |\n\n"
        "| Dask: stage of a partition | CPU s / 10^6 rows |\n|---|---|\n"
        + "\n".join(f"| {stage} | {seconds} |" for stage, seconds in dask_stage_rows.items())
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
