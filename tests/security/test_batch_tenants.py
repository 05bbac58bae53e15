"""Attack: one API key reads, downloads, cancels or lists another key's batch jobs, or
names another key's input files by path.

On the old main ``submitted_by`` was stored and never checked, and ``inputs/`` was shared
by all keys. Now a key sees only its own jobs (another key's job is a 404, as if unknown),
an admin key (``BATCH_ADMIN_KEY_HASHES``) sees all, and a path is looked up in the key's
own ``inputs/<key id>/`` folder. Real Redis; the API in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest

from services.batch.api.app import create_app
from services.core.web.auth import hash_key
from tests.integration.batch.conftest import applicants, make_settings, model_dir
from tests.integration.batch.harness import TestClient
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration
__all__ = ["applicants", "model_dir"]  # fixtures, used by name

ALICE, BOB, ADMIN = ({"X-API-Key": k} for k in ("alice-key", "bob-key", "admin-key"))


@pytest.fixture
def api(redis: RedisServer, tmp_path: Path, model_dir: Path) -> Iterator[TestClient]:
    settings = make_settings(
        redis,
        tmp_path,
        model_dir,
        api_key_hashes=[hash_key("alice-key"), hash_key("bob-key")],
        admin_key_hashes=[hash_key("admin-key")],
    )
    with TestClient(create_app(settings)) as client:
        yield client


def key_id(key: str) -> str:
    return hash_key(key)[:12]


def test_a_key_sees_only_its_own_jobs(
    api: TestClient, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    rows = applicants(50, 1).to_dict(orient="records")
    submitted = api.post("/api/v1/jobs", json={"rows": rows}, headers=ALICE)
    assert submitted.status_code == 202, submitted.text
    job = submitted.json()["job_id"]

    for path in (f"/api/v1/jobs/{job}", f"/api/v1/predict/batch/{job}"):
        assert api.get(path, headers=ALICE).status_code == 200
        assert api.get(path, headers=BOB).status_code == 404
        assert api.get(path, headers=ADMIN).status_code == 200
    for fmt in ("csv", "parquet", "json"):
        stolen = api.get(f"/api/v1/jobs/{job}/results?format={fmt}", headers=BOB)
        assert stolen.status_code == 404
    assert api.post(f"/api/v1/jobs/{job}/cancel", headers=BOB).status_code == 404
    assert api.get(f"/api/v1/jobs/{job}", headers=ALICE).json()["state"] != "cancelled"

    assert [j["job_id"] for j in api.get("/api/v1/jobs", headers=ALICE).json()] == [job]
    assert api.get("/api/v1/jobs", headers=BOB).json() == []
    assert job in [j["job_id"] for j in api.get("/api/v1/jobs", headers=ADMIN).json()]
    assert api.post(f"/api/v1/jobs/{job}/cancel", headers=ADMIN).status_code == 200


def test_a_key_reads_only_its_own_input_folder(
    api: TestClient, applicants: Callable[[int, int], pd.DataFrame], tmp_path: Path
) -> None:
    inputs = tmp_path / "store" / "inputs"
    (inputs / key_id("bob-key")).mkdir(parents=True)
    frame = applicants(20, 2)
    frame.to_csv(inputs / "alice-data.csv", index=False)  # shared root: nobody's but admin's
    frame.to_csv(inputs / key_id("bob-key") / "mine.csv", index=False)

    def submit(path: str, headers: dict[str, str]) -> int:
        return api.post("/api/v1/jobs", json={"path": path}, headers=headers).status_code

    assert submit("alice-data.csv", BOB) == 422
    assert submit(str(inputs / "alice-data.csv"), BOB) == 422  # absolute paths too
    assert submit(f"../{key_id('bob-key')}/mine.csv", ALICE) == 422
    assert submit("mine.csv", BOB) == 202
    assert submit("alice-data.csv", ADMIN) == 202
