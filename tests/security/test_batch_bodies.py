"""Attack: take the batch API down with one request — a JSON body it reads whole into
memory (the cap was the 4 GiB upload limit, in a pod of 1 GiB), or a multipart upload that
fills the pod's small ``/tmp``.

Now a JSON body is capped by ``BATCH_MAX_JSON_BYTES`` (32 MiB by default; a bigger input
goes as a file, streamed to the shared volume): 413 from the declared length before any
byte is read, or as soon as a chunked body passes the cap. Multipart spool files are kept
on the shared storage volume. Real Redis; the API in-process."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.batch.api.app import create_app
from services.batch.cli import _spool_uploads_to_storage
from services.batch.settings import BatchSettings
from tests.integration.batch.conftest import make_settings, model_dir
from tests.integration.batch.harness import TestClient
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration
__all__ = ["model_dir"]  # fixture, used by name
CAP = 4096


@pytest.fixture
def api(redis: RedisServer, tmp_path: Path, model_dir: Path) -> Iterator[TestClient]:
    settings = make_settings(redis, tmp_path, model_dir, max_json_bytes=CAP)
    with TestClient(create_app(settings)) as client:
        yield client


def _big_json() -> bytes:
    row = b'{"student": "No", "balance": 100.0, "income": 20000.0},'
    return b'{"rows": [' + row * (2 * CAP // len(row)) + row[:-1] + b"]}"


def test_a_declared_json_body_over_the_cap_is_413(api: TestClient) -> None:
    answer = api.post(
        "/api/v1/jobs", content=_big_json(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert "BATCH_MAX_JSON_BYTES" in answer.json()["error"]["message"]


def test_a_chunked_json_body_over_the_cap_is_413(api: TestClient) -> None:
    body = _big_json()

    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        for start in range(0, len(body), 1024):
            yield body[start : start + 1024]

    answer = api.post(
        "/api/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert api.get("/api/v1/jobs").json() == []  # nothing was accepted


def test_a_json_body_under_the_cap_is_accepted(api: TestClient) -> None:
    row = {"student": "No", "balance": 100.0, "income": 20000.0}
    assert api.post("/api/v1/jobs", json={"rows": [row] * 10}).status_code == 202


def test_upload_spool_files_go_to_the_storage_volume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", None)
    _spool_uploads_to_storage(BatchSettings(storage_dir=tmp_path / "store"))
    assert Path(tempfile.gettempdir()) == tmp_path / "store" / "tmp"
    fd, name = tempfile.mkstemp()  # where Starlette's SpooledTemporaryFile rolls over to
    assert Path(name).parent == tmp_path / "store" / "tmp"
    Path(name).unlink()
    os.close(fd)
