"""Redis SIGKILLed under batch load and restarted on its port — with every acknowledged
write (AOF), rolled back to a snapshot taken after the first submission (RDB), and
empty — while the job API (uvicorn process) and two rq worker processes
keep running. Jobs of 20k–100k rows go in as JSON rows, raw CSV, multipart CSV and
Parquet, half of them with an Idempotency-Key.

What must hold: a submission during the outage gets a clear 503 (nothing half-accepted is
left behind); every job that was accepted (202) ends with every input row exactly once
in its results (or failed with a reason — with the retry budget configured here, none
may); the same Idempotency-Key never makes a second job; no job is left stuck; the API
and the worker processes recover without being restarted.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from redis import Redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from services.batch.state.result_files import read_summary
from services.batch.state.store import RedisJobStore
from services.core.model_store import LoadedModel
from tests.system import profile
from tests.system.batch.books import Book, check_succeeded, expected_probabilities, make_books
from tests.system.batch.books import submit as send
from tests.system.batch.conftest import Launch
from tests.system.batch.stack import FINAL, BatchStack, Persistence, wait_for

pytestmark = pytest.mark.system

JOBS = profile.pick(6, 20)  # jobs that end up accepted
BEFORE = JOBS // 2  # submitted before the kill
DURING = profile.pick(2, 4)  # tried during the outage (refused), resubmitted after it
OUTAGE_SECONDS = profile.pick(4, 10)
FINISH_TIMEOUT = profile.pick(120, 600)


@dataclass
class Run:
    """What the client saw: accepted jobs by id, and the moments that matter."""

    stack: BatchStack
    client: httpx.Client
    accepted: dict[str, Book] = field(default_factory=dict)
    marks: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str) -> float:
        self.marks[name] = time.monotonic()
        return self.marks[name]

    def since(self, name: str) -> float:
        return round(time.monotonic() - self.marks[name], 2)

    def accept(self, book: Book) -> str:
        response = send(self.client, book)
        assert response.status_code == 202, (book.name, response.status_code, response.text)
        job_id = str(response.json()["job_id"])
        assert job_id not in self.accepted, f"{book.name} got the job of another book"
        self.accepted[job_id] = book
        return job_id

    def states(self) -> dict[str, str]:
        def state(job_id: str) -> str:
            response = self.client.get(f"/api/v1/jobs/{job_id}")
            return str(response.json()["state"]) if response.status_code == 200 else str(response)

        return {job_id: state(job_id) for job_id in self.accepted}


@pytest.fixture(params=list(Persistence), ids=[p.value for p in Persistence])
def run(request: pytest.FixtureRequest, launch: Launch) -> Iterator[Run]:
    stack = launch(Persistence(request.param), workers=2)
    with stack.client() as client:
        yield Run(stack, client)


def _chunk_in_flight(run: Run, redis: Redis) -> str | None:
    """A chunk task a worker is scoring (rq status ``started``) whose result is not
    written yet — once at least one job has already succeeded, so both finished and
    unfinished jobs face the outage."""
    store = RedisJobStore(redis, run.stack.settings.key_prefix)
    states = [(store.record(job_id) or {}).get("state") for job_id in run.accepted]
    if "succeeded" not in states or all(s in FINAL for s in states):
        return None
    queue = Queue(run.stack.settings.queue_name, connection=redis)
    storage = run.stack.settings.storage_dir / "jobs"
    for task_id in queue.started_job_registry.get_job_ids(cleanup=False):
        job_id, _, index = task_id.rpartition("-c")
        if not (job_id and index.isdigit()):
            continue  # a split task
        result = storage / job_id / "results" / f"part-{int(index):06d}.parquet"
        try:
            scoring = Job.fetch(task_id, connection=redis).get_status() == JobStatus.STARTED
        except NoSuchJobError:
            continue
        if scoring and not result.exists():
            return task_id
    return None


def _assert_refused(response: httpx.Response, port: int) -> None:
    """A submit during the outage: 503 that says Redis is away and nothing was accepted."""
    assert response.status_code == 503, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["code"] == "unavailable"
    assert f"Redis at 127.0.0.1:{port}" in error["message"]
    assert "nothing was accepted" in error["message"]
    assert response.headers["Retry-After"] == "5"


def _results_after(run: Run, wall_clock: float) -> list[str]:
    """Workers (host:pid) of the chunk results written after ``wall_clock``."""
    jobs = run.stack.settings.storage_dir / "jobs"
    return [
        read_summary(path).worker
        for path in jobs.glob("*/results/part-*.parquet")
        if path.stat().st_mtime > wall_clock
    ]


def test_redis_killed_under_load_every_accepted_job_ends_with_each_row_once(
    run: Run, scoring_model: LoadedModel
) -> None:
    stack = run.stack
    books = make_books(JOBS, 7, 20_000, 100_000, "b")
    before, during, after = books[:BEFORE], books[BEFORE : BEFORE + DURING], books[BEFORE:]
    want = {book.name: expected_probabilities(scoring_model, book) for book in books}

    at_kill = _load_then_kill(run, before)
    _outage(run, during)
    stack.redis.start()
    run.mark("restart")
    assert stack.redis.loaded_from_disk() is (stack.redis.persistence is not Persistence.EMPTY)
    recovery = _recover(run, replay=next(b for b in before if b.key), after=after)

    for job_id, book in run.accepted.items():  # failed-with-a-reason would be allowed, but
        check_succeeded(run.client, job_id, book, want[book.name])  # retries cover one outage
    listed = run.client.get("/api/v1/jobs", params={"limit": 1000}).json()
    assert {j["job_id"] for j in listed} == set(run.accepted), "a job missing or doubled"
    on_storage = {p.name for p in (stack.settings.storage_dir / "jobs").iterdir()}
    assert on_storage == set(run.accepted), "a refused submit left a job folder behind"
    assert stack.api is not None
    assert stack.api.alive, "the API process had to be restarted"
    assert all(worker.alive for worker in stack.workers), stack.logs_tail()
    rows = sum(book.rows for book in run.accepted.values())
    print(
        f"\n[{stack.redis.persistence}] {len(run.accepted)} jobs / {rows} rows; {at_kill}; "
        f"{len(during)} submits refused during the outage; {recovery}"
    )


def _load_then_kill(run: Run, books: list[Book]) -> str:
    """Submit ``books``; SIGKILL Redis once a job has succeeded and a chunk is being scored."""
    redis = Redis.from_url(run.stack.settings.redis_url, socket_timeout=2)
    run.mark("load")
    for book in books:
        run.accept(book)
        if len(run.accepted) == 1 and run.stack.redis.persistence is Persistence.RDB:
            run.stack.redis.snapshot()  # what the restart rolls back to
    task = wait_for("a chunk in flight", lambda: _chunk_in_flight(run, redis), 120, 0.01)
    store = RedisJobStore(redis, run.stack.settings.key_prefix)
    states = [(store.record(job_id) or {}).get("state", "?") for job_id in run.accepted]
    run.stack.redis.kill()
    run.mark("kill")
    jobs = run.stack.settings.storage_dir / "jobs"
    return (
        f"Redis SIGKILLed {run.marks['kill'] - run.marks['load']:.1f} s into the load with "
        f"{task} being scored, jobs {sorted(states)}, "
        f"{len(list(jobs.glob('*/results/part-*.parquet')))} chunk results on storage"
    )


def _outage(run: Run, books: list[Book]) -> None:
    """While Redis is down: submits are refused with a clear 503, status is 503, the
    probes say so; then wait out the outage."""
    client = run.client
    for book in books:
        _assert_refused(send(client, book), run.stack.redis.port)
    assert client.get(f"/api/v1/jobs/{next(iter(run.accepted))}").status_code == 503
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503
    assert "batch_redis_up 0.0" in client.get("/metrics").text
    time.sleep(max(0.0, OUTAGE_SECONDS - run.since("kill")))


def _recover(run: Run, replay: Book, after: list[Book]) -> str:
    """After the restart: the API is ready again, a retried submission of an accepted
    job gets that job back, the refused and remaining books are accepted, the workers
    score again and every job ends within the bound."""
    restarted_at = time.time() - run.since("restart")
    wait_for("the API to be ready again", run.stack.ready, 60, 0.1)
    api_ready = run.since("restart")
    replayed = send(run.client, replay)
    assert replayed.status_code == 202, replayed.text
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    assert run.accepted[replayed.json()["job_id"]] is replay, "a second job for one key"
    for book in after:  # the refused ones again (same keys), then the rest
        run.accept(book)
    wait_for("a chunk scored after the restart", lambda: _results_after(run, restarted_at), 60)
    worker_back = run.since("restart")

    def all_final() -> bool:
        states = run.states()
        lost = {run.accepted[j].name: s for j, s in states.items() if s.startswith("<Response")}
        assert not lost, f"accepted jobs whose status is not 200: {lost}"
        return all(s in FINAL for s in states.values())

    try:
        wait_for("every accepted job to end", all_final, FINISH_TIMEOUT, 0.5)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{run.states()}\n{run.stack.logs_tail()}") from exc
    scorers = {w.rsplit(":", 1)[1] for w in _results_after(run, restarted_at)}
    return (
        f"down {run.marks['restart'] - run.marks['kill']:.1f} s; after the restart: API ready "
        f"{api_ready} s, first chunk scored {worker_back} s, every job ended "
        f"{run.since('restart')} s; chunks scored after it by worker pids {sorted(scorers)} "
        f"of {sorted(str(w.pid) for w in run.stack.workers)}"
    )
