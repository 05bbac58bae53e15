"""The job state in Redis (``services.batch.state.store``), in-process against a real Redis:
a job is created with its tasks in one step (once, whoever asks twice), its chunks are
counted once and it is closed once, its record, chunk specs and the index of recent jobs
read back as the API shows them. (The API and worker tests show the same through
subprocesses; these run the code in the test's process, so mutation testing sees it.)"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from redis import Redis
from redis.client import Pipeline

from services.batch.domain import ChunkSpec, ChunkSummary, ClosedJob, JobState, Manifest
from services.batch.state import store as store_module
from services.batch.state.store import RedisJobStore
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

A, B, C = "a" * 32, "b" * 32, "c" * 32
CHUNKS = [
    ChunkSpec(0, "/in/x.parquet", 0, 4, (0, 1)),
    ChunkSpec(1, "/in/x.parquet", 4, 3, (1, 2)),
]


@pytest.fixture
def store(redis_client: Redis) -> RedisJobStore:
    return RedisJobStore(redis_client)


def manifest(job_id: str = A, **fields: object) -> Manifest:
    options: dict[str, object] = {
        "job_id": job_id,
        "created_at": 5.0,
        "kind": "path",
        "format": "parquet",
        "source": "/in/x.parquet",
        "chunk_rows": 4,
        "split": False,
        "model_uri": "models:/m@champion",
        **fields,
    }
    return Manifest(**options)  # type: ignore[arg-type]


def text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def no_tasks(pipe: Pipeline) -> None:
    return None


def task(redis_client: Redis, name: str) -> object:
    """An ``enqueue`` that queues ``name`` on a list, inside the create's MULTI/EXEC."""

    def enqueue(pipe: Pipeline) -> None:
        pipe.rpush("tasks", name)

    return enqueue


def tasks(redis_client: Redis) -> list[str]:
    return [text(t) for t in redis_client.lrange("tasks", 0, -1)]


def create(
    store: RedisJobStore,
    m: Manifest,
    chunks: list[ChunkSpec] | None = CHUNKS,
    n_rows: int | None = 7,
    recovered: bool = False,
    ttl: int = 600,
) -> str:
    return store.create(m, chunks, n_rows, task(store.redis, m.job_id), ttl, recovered)  # type: ignore[arg-type]


def test_a_new_job_is_recorded_indexed_counted_and_queued_in_one_step(
    store: RedisJobStore, redis_client: Redis
) -> None:
    m = manifest(
        name="x.parquet",
        id_column="id",
        model_name="m",
        model_version="3",
        model_pinned_uri="models:/m/3",
        submitted_by="k1",
        request_digest="r" * 8,
    )
    assert not store.exists(A)
    assert create(store, m) == A
    assert store.exists(A)
    assert sorted(text(k) for k in redis_client.keys("*")) == [
        f"batch:job:{A}",
        f"batch:job:{A}:chunks",
        "batch:jobs",
        "batch:stats",
        "tasks",
    ]
    assert store.record(A) == {
        "state": "queued",
        "created_at": "5.0",
        "kind": "path",
        "format": "parquet",
        "source": "/in/x.parquet",
        "name": "x.parquet",
        "id_column": "id",
        "chunk_rows": "4",
        "model_uri": "models:/m@champion",
        "model_name": "m",
        "model_version": "3",
        "model_pinned_uri": "models:/m/3",
        "submitted_by": "k1",
        "request_digest": "rrrrrrrr",
        "planned": "1",
        "n_chunks": "2",
        "n_rows": "7",
        "chunks_done": "0",
        "rows_done": "0",
        "positives": "0",
        "recovered": "0",
    }
    assert store.chunk_specs(A) == CHUNKS
    assert redis_client.zrange("batch:jobs", 0, -1, withscores=True) == [(A.encode(), 5.0)]
    assert store.stats() == {"entered:queued": 1}
    assert tasks(redis_client) == [A]
    assert redis_client.ttl(f"batch:job:{A}") == -1  # an active job does not expire


def test_a_split_job_is_unplanned_with_no_chunks_and_a_recovered_one_is_not_counted(
    store: RedisJobStore, redis_client: Redis
) -> None:
    assert create(store, manifest(), chunks=None, n_rows=None, recovered=True) == A
    record = store.record(A)
    assert record is not None
    assert (record["planned"], record["n_chunks"], record["n_rows"]) == ("0", "0", "-1")
    assert (record["recovered"], record["id_column"], record["request_digest"]) == ("1", "", "")
    assert record["submitted_by"] == "anonymous"
    assert store.chunk_specs(A) == []
    assert not redis_client.exists(f"batch:job:{A}:chunks")
    assert store.stats() == {}  # entered the queue before Redis lost it: counted then
    assert create(store, manifest(B), chunks=[], n_rows=0) == B
    record = store.record(B)
    assert record is not None
    assert (record["planned"], record["n_chunks"], record["n_rows"]) == ("1", "0", "0")


def test_the_same_job_or_a_twin_request_is_created_once(
    store: RedisJobStore, redis_client: Redis
) -> None:
    digest = "d" * 32
    assert store.idempotent(digest) is None
    assert create(store, manifest(A, idempotency=digest), ttl=900) == A
    assert store.idempotent(digest) == A
    assert 890 < redis_client.ttl(f"batch:idem:{digest}") <= 900
    # a twin request (same key, another job id) gets the first job, and queues nothing
    assert create(store, manifest(B, idempotency=digest)) == A
    assert not store.exists(B)
    # the same job submitted again (a retried submit) is not queued twice
    assert create(store, manifest(A, idempotency=digest)) == A
    assert create(store, manifest(A)) == A
    assert tasks(redis_client) == [A]
    assert store.stats() == {"entered:queued": 1}
    # without a key, no idempotency record
    assert create(store, manifest(C)) == C
    assert redis_client.keys("batch:idem:*") == [f"batch:idem:{digest}".encode()]


def test_a_create_raced_by_a_twin_is_tried_again_and_yields_to_it(
    store: RedisJobStore, redis_client: Redis, redis: RedisServer
) -> None:
    """Another API replica writes the key between WATCH and EXEC: the create is retried,
    and finds the twin's job."""
    digest = "e" * 32
    other = Redis.from_url(redis.url)
    attempts: list[int] = []

    def racing(pipe: Pipeline) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            other.set(f"batch:idem:{digest}", B)
        pipe.rpush("tasks", A)

    try:
        owner = store.create(manifest(A, idempotency=digest), CHUNKS, 7, racing, 600)
    finally:
        other.close()
    assert owner == B
    assert len(attempts) == 1
    assert not store.exists(A)
    assert tasks(redis_client) == []


def test_a_job_created_meanwhile_by_another_replica_is_not_queued_twice(
    store: RedisJobStore, redis_client: Redis, redis: RedisServer
) -> None:
    """The same job (a retried submit) is registered by another replica between WATCH and
    EXEC: the create is retried, finds the job and queues nothing more."""
    other = Redis.from_url(redis.url)

    def racing(pipe: Pipeline) -> None:
        other.hset(f"batch:job:{A}", mapping={"state": "running", "submitted_by": "k9"})
        pipe.rpush("tasks", A)

    try:
        assert store.create(manifest(A), CHUNKS, 7, racing, 600) == A
    finally:
        other.close()
    assert tasks(redis_client) == []
    assert store.record(A) == {"state": "running", "submitted_by": "k9"}
    assert store.stats() == {}


def test_a_new_job_counts_as_queued_unless_told_it_is_recovered(store: RedisJobStore) -> None:
    assert store.create(manifest(), None, None, no_tasks, 600) == A
    record = store.record(A)
    assert record is not None
    assert record["recovered"] == "0"
    assert store.stats() == {"entered:queued": 1}


def test_the_index_keeps_the_most_recent_jobs(
    store: RedisJobStore, redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "RECENT_JOBS", 2)
    for i, job_id in enumerate((A, B, C)):
        create(store, manifest(job_id, created_at=float(i)))
    assert redis_client.zrange("batch:jobs", 0, -1) == [B.encode(), C.encode()]
    closed = ClosedJob("succeeded", 9.0, None, [ChunkSummary(4, 1, {"low": 4}, "w", "1")])
    store.restore_closed(manifest("f" * 32, created_at=0.5), closed, CHUNKS[:1], 60)
    assert redis_client.zrange("batch:jobs", 0, -1) == [B.encode(), C.encode()]


def test_a_prefix_names_every_key(redis_client: Redis) -> None:
    store = RedisJobStore(redis_client, prefix="p1")
    digest = "1" * 32
    create(store, manifest(idempotency=digest))
    store.close(A, JobState.FAILED, 60, "{}")
    assert sorted(text(k) for k in redis_client.keys("p1:*")) == [
        f"p1:idem:{digest}",
        f"p1:job:{A}",
        f"p1:job:{A}:chunks",
        "p1:jobs",
        "p1:stats",
    ]
    assert store.stats() == {"entered:queued": 1, "entered:failed": 1}


def test_a_closed_job_is_restored_with_its_results_and_expires_with_them(
    store: RedisJobStore, redis_client: Redis
) -> None:
    digest = "2" * 32
    summaries = [
        ChunkSummary(4, 1, {"low": 3, "high": 1}, "w", "1"),
        ChunkSummary(3, 2, {"high": 3}, "w", "2"),
    ]
    closed = ClosedJob("succeeded", 9.0, {"message": "m"}, summaries)
    store.restore_closed(manifest(idempotency=digest), closed, CHUNKS, 300)
    record = store.record(A)
    assert record is not None
    assert {k: record[k] for k in ("state", "finished_at", "recovered", "n_rows", "n_chunks")} == {
        "state": "succeeded",
        "finished_at": "9.0",
        "recovered": "1",
        "n_rows": "7",
        "n_chunks": "2",
    }
    assert (record["chunks_done"], record["rows_done"], record["positives"]) == ("2", "7", "3")
    assert (record["band:low"], record["band:high"], record["model:2"]) == ("3", "4", "1")
    assert json.loads(record["error"]) == {"message": "m"}
    assert store.chunk_specs(A) == CHUNKS
    assert redis_client.smembers(f"batch:job:{A}:done") == {b"0", b"1"}
    for key in (f"batch:job:{A}", f"batch:job:{A}:done", f"batch:job:{A}:chunks"):
        assert 290 < redis_client.ttl(key) <= 300, key
    assert 290 < redis_client.ttl(f"batch:idem:{digest}") <= 300
    assert store.idempotent(digest) == A
    assert redis_client.zscore("batch:jobs", A) == 5.0
    assert store.stats() == {}  # counted when it ran
    create(store, manifest(B))
    store.restore_closed(manifest(C), closed, CHUNKS, 300)
    assert redis_client.ttl("batch:stats") == -1  # the global counters never expire


def test_a_restored_job_does_not_take_a_key_another_job_holds(
    store: RedisJobStore, redis_client: Redis
) -> None:
    digest = "3" * 32
    create(store, manifest(B, idempotency=digest), ttl=1000)
    closed = ClosedJob("failed", 9.0, None, [])
    store.restore_closed(manifest(A, idempotency=digest), closed, None, 300)
    assert store.idempotent(digest) == B
    assert redis_client.ttl(f"batch:idem:{digest}") > 300
    record = store.record(A)
    assert record is not None
    assert (record["state"], record["n_rows"], record["planned"]) == ("failed", "-1", "0")
    assert "error" not in record
    assert not redis_client.exists(f"batch:job:{A}:done")
    assert not redis_client.exists(f"batch:job:{A}:chunks")
    store.restore_closed(manifest(C), closed, [], 300)
    record = store.record(C)
    assert record is not None
    assert (record["n_rows"], record["planned"]) == ("0", "1")


def test_begin_marks_the_job_running_once_and_hands_out_the_chunk(
    store: RedisJobStore, redis_client: Redis
) -> None:
    assert store.begin(A, 0) == ("missing", None, None)
    create(store, manifest(id_column="id"))
    assert store.begin(A, 1) == ("running", CHUNKS[1], "id")
    started = store.record(A)
    assert started is not None
    assert float(started["started_at"]) > 0
    assert store.begin(A, None) == ("running", None, "id")  # a split task: no spec
    assert store.begin(A, 7) == ("running", None, "id")  # no such chunk
    assert store.stats() == {"entered:queued": 1, "entered:running": 1}
    create(store, manifest(B))
    assert store.begin(B, 0) == ("running", CHUNKS[0], None)  # no id column


def test_chunks_count_once_and_the_last_one_closes_the_job(
    store: RedisJobStore, redis_client: Redis
) -> None:
    assert store.done(A, 0, ChunkSummary(4, 1), 60) == ("missing", "")
    create(store, manifest())
    store.begin(A, 0)
    first = ChunkSummary(4, 1, {"low": 3, "high": 1}, "w", "1")
    assert store.done(A, 0, first, 60) == ("counted", "running")
    assert store.done(A, 0, first, 60) == ("duplicate", "running")
    record = store.record(A)
    assert record is not None
    assert (record["rows_done"], record["positives"], record["chunks_done"]) == ("4", "1", "1")
    assert (record["band:low"], record["band:high"], record["model:1"]) == ("3", "1", "1")
    with store.watch_close(A) as closed:
        assert not closed(0.05)
        second = ChunkSummary(3, 2, {"high": 3}, "w", "2")
        assert store.done(A, 1, second, 120) == ("finished", "succeeded")
        assert closed(30)
    record = store.record(A)
    assert record is not None
    assert (record["state"], record["rows_done"], record["positives"]) == ("succeeded", "7", "3")
    assert (record["band:high"], record["model:2"]) == ("4", "1")
    assert float(record["finished_at"]) > 0
    assert 110 < redis_client.ttl(f"batch:job:{A}") <= 120
    assert store.stats() == {
        "entered:queued": 1,
        "entered:running": 1,
        "entered:succeeded": 1,
        "rows_scored": 7,
        "chunks_scored": 2,
    }
    assert store.done(A, 1, second, 60) == ("inactive", "succeeded")


def test_a_split_job_is_sealed_and_its_added_chunks_are_queued(
    store: RedisJobStore, redis_client: Redis
) -> None:
    assert store.add_chunks(A, CHUNKS, task(redis_client, "lost")) == "missing"  # type: ignore[arg-type]
    create(store, manifest(split=True), chunks=None, n_rows=None)
    store.begin(A, None)
    assert store.add_chunks(A, CHUNKS, task(redis_client, "chunks")) == "running"  # type: ignore[arg-type]
    assert tasks(redis_client) == ["lost", A, "chunks"]
    assert store.chunk_specs(A) == CHUNKS
    summary = ChunkSummary(4, 0, {"low": 4}, "w", "1")
    assert store.done(A, 0, summary, 60) == ("counted", "running")  # not planned yet
    assert store.seal(A, 2, 7, 60) == ("sealed", "running")
    assert store.done(A, 1, ChunkSummary(2, 0, {}, "w", "1"), 60) == ("finished", "failed")
    record = store.record(A)
    assert record is not None
    assert json.loads(record["error"])["message"] == (
        "internal error: 6 result rows for 7 input rows"
    )
    assert store.seal(A, 2, 7, 60) == ("inactive", "failed")


def test_sealing_a_split_whose_chunks_are_all_done_closes_it(store: RedisJobStore) -> None:
    create(store, manifest(split=True), chunks=None, n_rows=None)
    store.add_chunks(A, CHUNKS[:1], no_tasks)
    assert store.done(A, 0, ChunkSummary(4, 0, {}, "w", "1"), 60) == ("counted", "queued")
    assert store.seal(A, 1, 4, 60) == ("finished", "succeeded")


def test_close_fails_or_cancels_a_job_once_and_says_why(
    store: RedisJobStore, redis_client: Redis
) -> None:
    create(store, manifest())
    create(store, manifest(B))
    assert store.close(A, JobState.CANCELLED, 30) == ("closed", "cancelled")
    record = store.record(A)
    assert record is not None
    assert record["state"] == "cancelled"
    assert "error" not in record
    assert 20 < redis_client.ttl(f"batch:job:{A}") <= 30
    assert store.close(A, JobState.FAILED, 30, '{"message": "x"}') == ("inactive", "cancelled")
    assert store.close(B, JobState.FAILED, 30, '{"message": "x"}') == ("closed", "failed")
    record = store.record(B)
    assert record is not None
    assert record["error"] == '{"message": "x"}'
    assert store.record(C) is None


def test_a_close_heard_from_another_thread_wakes_the_waiter(store: RedisJobStore) -> None:
    create(store, manifest())
    heard: list[bool] = []
    with store.watch_close(A) as closed:
        waiter = threading.Thread(target=lambda: heard.append(closed(60)))
        waiter.start()
        store.close(A, JobState.CANCELLED, 30)
        waiter.join(60)
        assert not waiter.is_alive(), "the waiter never returned"
    assert heard == [True]
    with store.watch_close(B) as closed:
        assert not closed(0)
        store.close(A, JobState.FAILED, 30)  # another job: not heard
        assert not closed(0.2)


def test_the_scoring_uri_is_the_pinned_version_if_any(store: RedisJobStore) -> None:
    assert store.scoring_uri(A) is None
    create(store, manifest(A))
    create(store, manifest(B, model_pinned_uri="models:/m/4"))
    assert store.scoring_uri(A) == "models:/m@champion"
    assert store.scoring_uri(B) == "models:/m/4"
    # a record written before pinning has no pinned URI: the configured one is used
    old = "9" * 32
    store.redis.hset(f"batch:job:{old}", mapping={"state": "queued", "model_uri": "models:/o"})
    assert store.scoring_uri(old) == "models:/o"


def test_recent_jobs_newest_first_and_an_owner_sees_only_theirs(
    store: RedisJobStore, redis_client: Redis
) -> None:
    assert store.recent(5) == []
    ids = [f"{i:032x}" for i in range(1, 8)]
    for i, job_id in enumerate(ids):
        owner = "k1" if i % 3 == 0 else "k2"
        create(store, manifest(job_id, created_at=float(i), submitted_by=owner))
    newest = list(reversed(ids))
    got = store.recent(3)
    assert [job_id for job_id, _ in got] == newest[:3]
    assert got[0][1]["submitted_by"] == "k1"
    assert got[0][1]["created_at"] == "6.0"
    assert [job_id for job_id, _ in store.recent(50)] == newest
    assert [job_id for job_id, _ in store.recent(2, "k1")] == [ids[6], ids[3]]
    assert [job_id for job_id, _ in store.recent(9, "k1")] == [ids[6], ids[3], ids[0]]
    assert [job_id for job_id, _ in store.recent(9, "nobody")] == []
    # a job whose keys expired leaves the index when it is read (without an owner, one
    # page is read: the expired ones leave it short this once)
    redis_client.delete(f"batch:job:{ids[6]}", f"batch:job:{ids[5]}")
    assert [job_id for job_id, _ in store.recent(3)] == [ids[4]]
    assert redis_client.zcard("batch:jobs") == 5
    assert [job_id for job_id, _ in store.recent(3)] == [ids[4], ids[3], ids[2]]


def test_an_owner_s_jobs_are_found_past_the_first_page_and_past_expired_ones(
    store: RedisJobStore, redis_client: Redis
) -> None:
    """The index is read 200 at a time, and only as far as needed: the owner's older jobs
    lie on later pages, and expired jobs dropped from a page do not make the next page skip
    any."""
    pipe = redis_client.pipeline(transaction=False)
    for i in range(450):
        job_id = f"{i:032x}"
        owner = "old" if i < 3 else "new"
        pipe.hset(f"batch:job:{job_id}", mapping={"state": "queued", "submitted_by": owner})
        pipe.zadd("batch:jobs", {job_id: float(i)})
    pipe.execute()
    for i in (*range(440, 450), *range(230, 240)):
        redis_client.delete(f"batch:job:{i:032x}")  # expired, still indexed
    found = store.recent(250, "new")
    assert [job_id for job_id, _ in found] == [
        f"{i:032x}" for i in (*range(439, 239, -1), *range(229, 179, -1))
    ]
    assert redis_client.zcard("batch:jobs") == 430  # the expired ones left the index
    for i in range(100, 110):
        redis_client.delete(f"batch:job:{i:032x}")
    # the first page holds 200 of the owner's jobs: the next page is not read
    assert len(store.recent(200, "new")) == 200
    assert redis_client.zcard("batch:jobs") == 430
    assert [job_id for job_id, _ in store.recent(3, "old")] == [f"{i:032x}" for i in (2, 1, 0)]
    assert redis_client.zcard("batch:jobs") == 420
    untagged = f"{999:032x}"
    redis_client.hset(f"batch:job:{untagged}", mapping={"state": "queued"})
    redis_client.zadd("batch:jobs", {untagged: 999.0})
    assert [job_id for job_id, _ in store.recent(1, "anonymous")] == [untagged]


def test_ping_answers_while_redis_is_up(store: RedisJobStore, redis: RedisServer) -> None:
    store.ping()


def test_a_record_and_stats_read_bytes_or_text(redis: RedisServer, tmp_path: Path) -> None:
    decoded = Redis.from_url(redis.url, decode_responses=True)
    try:
        store = RedisJobStore(decoded)
        digest = "4" * 32
        create(store, manifest(idempotency=digest, model_pinned_uri="models:/m/2"))
        assert store.idempotent(digest) == A
        record = store.record(A)
        assert record is not None
        assert record["state"] == "queued"
        assert store.scoring_uri(A) == "models:/m/2"
        assert store.stats() == {"entered:queued": 1}
        assert store.begin(A, 0) == ("running", CHUNKS[0], None)
        assert [job_id for job_id, _ in store.recent(1)] == [A]
    finally:
        decoded.close()
