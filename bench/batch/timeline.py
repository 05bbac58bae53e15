"""Where a job's wall time goes: a timeline of one job from its rq task records.

After a job, each chunk task's record (kept ``TASK_RESULT_TTL`` seconds) says which worker
ran it and when it started and ended (rq's own timestamps), and its return value how long
``run_chunk`` took inside. With the client's submit and done times this splits each
worker's share of the wall time into: waiting for its first task, scoring (``run_chunk``),
the rest of each task (state calls, model look-up, rq's bookkeeping around the function),
gaps between tasks (dequeue), and the tail (its last task's end to the client seeing the
job done). ``python3 bench/batch/timeline.py --rows N`` runs one job on two workers and
prints the timeline (ours only, no peer); ``bench_peers.py`` adds it to its report.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from redis import Redis  # noqa: E402
from rq.job import Job  # noqa: E402

from services.batch.state.queue import SERIALIZER, chunk_task_id  # noqa: E402


def task_times(redis: Redis, job_id: str, chunks: int) -> list[dict[str, Any]]:
    """Per chunk task: worker, start and end (epoch seconds), run_chunk seconds."""
    out = []
    for index in range(chunks):
        task = _ended(redis, chunk_task_id(job_id, index))
        value = task.return_value() or {}
        assert task.started_at is not None
        assert task.ended_at is not None
        out.append(
            {
                "index": index,
                "worker": task.worker_name or "?",
                "enqueued": _epoch(task.enqueued_at),
                "start": _epoch(task.started_at),
                "end": _epoch(task.ended_at),
                "run_chunk": float(value.get("seconds") or 0.0),
            }
        )
    return out


def _ended(redis: Redis, task_id: str, patience: float = 10.0) -> Job:
    """The task once rq has stamped its end: the client can hear of the job's end (the
    last chunk's Lua step) before rq's bookkeeping after that task is written."""
    deadline = time.monotonic() + patience
    while True:
        task = Job.fetch(task_id, connection=redis, serializer=SERIALIZER)
        if task.ended_at is not None or time.monotonic() > deadline:
            return task
        time.sleep(0.05)


def _epoch(moment: Any) -> float:
    if moment.tzinfo is None:  # rq stores UTC
        moment = moment.replace(tzinfo=UTC)
    return float(moment.timestamp())


def breakdown(tasks: list[dict[str, Any]], submitted: float, seen_done: float) -> dict[str, Any]:
    """Each worker's wall time (submit → client sees done) split into where it went."""
    wall = seen_done - submitted
    by_worker: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for t in tasks:
        by_worker[t["worker"]].append(t)
    workers = {}
    for name, mine in sorted(by_worker.items()):
        mine.sort(key=lambda t: t["start"])
        scoring = sum(t["run_chunk"] for t in mine)
        in_task = sum(t["end"] - t["start"] for t in mine)
        gaps = [b["start"] - a["end"] for a, b in itertools.pairwise(mine)]
        workers[name] = {
            "tasks": len(mine),
            "first_start": round(mine[0]["start"] - submitted, 3),
            "scoring": round(scoring, 3),
            "task_overhead": round(in_task - scoring, 3),
            "gaps": round(sum(gaps), 3),
            "max_gap": round(max(gaps, default=0.0), 3),
            "tail": round(seen_done - mine[-1]["end"], 3),
        }
    last_end = max(t["end"] for t in tasks)
    return {
        "wall": round(wall, 3),
        "first_enqueued": round(min(t["enqueued"] for t in tasks) - submitted, 3),
        "last_end_to_seen_done": round(seen_done - last_end, 3),
        "workers": workers,
    }


def markdown(b: dict[str, Any]) -> str:
    """The breakdown as a table: one row per worker, seconds of the wall time."""
    head = (
        f"Where our wall time goes (best round, {b['wall']} s from submit to the client "
        f"seeing the job done; first task queued {b['first_enqueued']} s after submit; last "
        f"task end → seen done {b['last_end_to_seen_done']} s):\n\n"
        "| worker | tasks | to first task | scoring (run_chunk) | rest of tasks | "
        "gaps between tasks (max) | tail | idle total |\n|---|---|---|---|---|---|---|---|\n"
    )
    rows = []
    for i, w in enumerate(b["workers"].values()):
        idle = w["first_start"] + w["gaps"] + w["tail"]
        rows.append(
            f"| {i + 1} | {w['tasks']} | {w['first_start']} | {w['scoring']} | "
            f"{w['task_overhead']} | {w['gaps']} ({w['max_gap']}) | {w['tail']} | "
            f"{round(idle + w['task_overhead'], 3)} |"
        )
    return head + "\n".join(rows)


def main() -> None:
    from bench.batch.bench_batch import CHUNK_ROWS, run_job
    from bench.batch.bench_peers import INPUTS, cached_input
    from bench.batch.harness import (
        api_server,
        job_api_env,
        model_or_quick,
        service_env,
        workers,
    )
    from tests.support.processes import RedisServer

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--poll", type=float, default=0.1, help="0: long polls (?wait=)")
    parser.add_argument("--model-uri")
    parser.add_argument("--tracking-uri", default="")
    args = parser.parse_args()
    path = cached_input(args.rows)
    with tempfile.TemporaryDirectory(prefix="bench-timeline-") as tmp:
        work = Path(tmp)
        model_uri, tracking = model_or_quick(args.model_uri, args.tracking_uri, work)
        redis = RedisServer(work / "redis").start()
        env = job_api_env(model_uri, tracking, redis.url, work, args.chunk_rows, [INPUTS])
        try:
            with (
                api_server(service_env(env)) as api,
                workers(2, service_env(env, BATCH_NTHREAD="1"), redis.url) as pids,
            ):
                for _ in range(args.rounds):
                    submitted = time.time()
                    wait = 0 if args.poll else 30
                    run = run_job(api, path, args.rows, pids, poll=args.poll, wait=wait)
                    tasks = task_times(Redis.from_url(redis.url), run["job_id"], run["chunks"])
                    b = breakdown(tasks, submitted, submitted + run["seconds"])
                    print(json.dumps(b), flush=True)
                    print(markdown(b), flush=True)
        finally:
            redis.stop()


if __name__ == "__main__":
    main()
