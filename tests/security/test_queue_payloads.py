"""Attack: write rq tasks into the batch queue (as whoever got write access to Redis could)
naming code of the attacker's choice, and watch a real batch worker process them.

On the old main the worker unpickled the payload and called the function it named (any
importable callable): here ``evil`` below, which leaves a marker file. Now the payload must
be JSON, only the batch task functions run, and callbacks other than the batch's own are
ignored; the worker keeps serving and a real job still completes after the attack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from redis import Redis
from rq import Callback, Queue
from rq.serializers import JSONSerializer

from services.batch.state.queue import SCORE_CHUNK, TaskJob
from tests.integration.batch.conftest import (
    api,
    applicants,
    make_settings,
    model_dir,
    spawn_worker,
)
from tests.integration.batch.harness import TestClient, WorkerProcess, wait_final, wait_for
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration
__all__ = ["api", "applicants", "model_dir", "spawn_worker"]  # fixtures, used by name
EVIL = f"{__name__}.evil"


def evil(marker: str, *_: Any) -> None:
    """What an attacker's task would do: anything, as the worker's user."""
    Path(marker).write_text("pwned")


def evil_callback(job: Any, *_: Any) -> None:
    Path(job.args[0] + ".callback").write_text("pwned")


@pytest.fixture
def settings(redis: RedisServer, tmp_path: Path, model_dir: Path) -> Any:
    return make_settings(redis, tmp_path, model_dir)


def test_forged_tasks_run_no_code(
    settings: Any,
    api: TestClient,
    spawn_worker: Callable[..., WorkerProcess],
    applicants: Callable[[int, int], pd.DataFrame],
    tmp_path: Path,
) -> None:
    connection = Redis.from_url(settings.redis_url)
    markers = [tmp_path / f"pwned-{i}" for i in range(4)]
    pickled = Queue(settings.queue_name, connection=connection)  # rq's default: pickle
    pickled.enqueue(EVIL, str(markers[0]))
    as_json = Queue(settings.queue_name, connection=connection, serializer=JSONSerializer)
    as_json.enqueue(EVIL, str(markers[1]), on_failure=Callback(f"{__name__}.evil_callback"))
    as_json.enqueue(SCORE_CHUNK, str(markers[2]), 0, on_success=Callback(EVIL))
    as_json.enqueue(SCORE_CHUNK, str(markers[3]), 0, on_failure=Callback(EVIL))

    worker = spawn_worker(settings)
    wait_for("the forged tasks to be taken", lambda: pickled.count == 0, timeout=60)
    rows = applicants(200, 3).to_dict(orient="records")
    job = api.post("/api/v1/jobs", json={"rows": rows})
    assert job.status_code == 202, job.text
    final = wait_final(api, job.json()["job_id"])
    assert final["state"] == "succeeded"  # the worker survived and still works

    assert worker.alive
    for marker in markers:
        assert not marker.exists(), marker
        assert not Path(f"{marker}.callback").exists()
    failed = [TaskJob.fetch(i, connection, serializer=JSONSerializer) for i in _failed(pickled)]
    assert len(failed) >= 2  # the two tasks naming foreign functions ended failed
    assert "not a batch task" in worker.output() or any(
        "not a batch task" in (f.exc_info or "") for f in failed
    )


def _failed(queue: Queue) -> list[str]:
    return list(queue.failed_job_registry.get_job_ids())
