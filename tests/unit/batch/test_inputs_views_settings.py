"""Input checks, status views, settings and storage rules."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pytest

from services.batch.cli import main
from services.batch.domain import BadInput, JobState
from services.batch.formats import detect
from services.batch.formats.csv import check_csv
from services.batch.formats.parquet import schema_problems
from services.batch.service.views import job_status
from services.batch.settings import BatchSettings
from services.batch.state.storage import Storage
from services.core.datasets import load_config

pytestmark = pytest.mark.unit
FEATURES = load_config("default").features


def test_format_is_decided_by_the_bytes(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"PAR1....")
    (tmp_path / "b.bin").write_text("student,balance,income\n")
    (tmp_path / "c").write_bytes(b"")
    assert detect(tmp_path / "a.csv", "csv").name == "parquet"
    assert detect(tmp_path / "b.bin").name == "csv"
    with pytest.raises(BadInput, match="not a Parquet file"):
        detect(tmp_path / "b.bin", "parquet")
    with pytest.raises(BadInput, match="empty file"):
        detect(tmp_path / "c")


def test_schema_problems_name_missing_and_mistyped_columns() -> None:
    schema = pa.schema([("student", pa.bool_()), ("balance", pa.string())])
    problems = {(p["column"], p["message"]) for p in schema_problems(schema, FEATURES, "id")}
    assert problems == {
        ("income", "missing column"),
        ("id", "missing column"),
        ("student", "expected text (or integer) levels, file has bool"),
        ("balance", "expected numbers, file has string"),
    }
    fine = pa.schema(
        [
            ("student", pa.dictionary(pa.int8(), pa.string())),
            ("balance", pa.int64()),
            ("income", pa.float32()),
        ]
    )
    assert schema_problems(fine, FEATURES, None) == []


def test_csv_check_validates_only_the_first_rows(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text("student,balance,income\n" + "No,1,2\n" * 50 + "No,-1,2\n")
    check_csv(path, FEATURES, None, check_rows=50)
    with pytest.raises(BadInput, match="values below min 0 \\(rows 51\\)"):
        check_csv(path, FEATURES, None, check_rows=51)


def _record(**extra: str) -> dict[str, str]:
    base = {
        "state": "running",
        "created_at": "1000",
        "started_at": "1000",
        "planned": "1",
        "n_rows": "1000",
        "n_chunks": "4",
        "rows_done": "250",
        "chunks_done": "1",
        "kind": "path",
        "format": "parquet",
        "name": "book.parquet",
    }
    return {**base, **extra}


def test_status_shows_progress_rate_and_eta() -> None:
    status = job_status("f" * 32, _record(), at=1010.0)
    assert (status.progress, status.rows_per_second, status.eta_seconds) == (0.25, 25.0, 30.0)
    assert status.links["results"].endswith("/results")
    splitting = job_status("f" * 32, _record(planned="0"), at=1010.0)
    assert (splitting.rows_total, splitting.progress, splitting.eta_seconds) == (None, None, None)


def test_summary_of_a_succeeded_job_lists_bands_in_contract_order() -> None:
    record = _record(
        state="succeeded",
        finished_at="1004",
        rows_done="1000",
        chunks_done="4",
        positives="30",
        **{"band:high": "30", "band:low": "970", "model:3": "1"},
    )
    status = job_status("f" * 32, record, bands=["low", "medium", "high"])
    assert status.state is JobState.SUCCEEDED
    assert status.eta_seconds is None
    assert status.rows_per_second == 250.0
    assert status.summary is not None
    assert list(status.summary.risk_bands) == ["low", "high"]
    assert status.summary.predicted_default_rate == 0.03
    assert status.summary.model_versions == ["3"]
    failed = job_status(
        "f" * 32,
        _record(
            state="failed", error=json.dumps({"message": "bad", "details": [{"column": "income"}]})
        ),
    )
    assert failed.error is not None
    assert failed.error.details == [{"column": "income"}]


def test_status_names_the_pinned_model_version() -> None:
    pinned = _record(
        model_uri="models:/credit-default@champion",
        model_name="credit-default",
        model_version="4",
        model_pinned_uri="models:/credit-default/4",
    )
    model = job_status("f" * 32, pinned).model
    assert model is not None
    assert (model.name, model.version, model.uri, model.requested) == (
        "credit-default",
        "4",
        "models:/credit-default/4",
        "models:/credit-default@champion",
    )
    assert job_status("f" * 32, _record()).model is None  # submitted before pinning


def test_settings_read_the_well_known_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://queue:6379/2")
    monkeypatch.setenv("MODEL_URI", "models:/credit-default/7")
    monkeypatch.setenv("BATCH_CHUNK_ROWS", "1234")
    monkeypatch.setenv("BATCH_RETRY_BACKOFF_SECONDS", "[0, 5]")
    settings = BatchSettings()
    assert settings.redis_url == "redis://queue:6379/2"
    assert settings.model_uri == "models:/credit-default/7"
    assert (settings.chunk_rows, settings.retry_backoff_seconds) == (1234, [0, 5])
    with pytest.raises(ValueError, match="API keys"):
        BatchSettings(environment="production")
    with pytest.raises(ValueError, match="negative"):
        BatchSettings(retry_backoff_seconds=[-1])


def test_paths_must_stay_inside_the_input_folders(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "store")
    (storage.inputs_dir / "book.csv").write_text("x")
    (tmp_path / "secret.csv").write_text("x")
    assert storage.resolve_input("book.csv") == (storage.inputs_dir / "book.csv").resolve()
    assert storage.resolve_input(str(storage.inputs_dir / "book.csv")) is not None
    for outside in ("../../secret.csv", str(tmp_path / "secret.csv"), "missing.csv", "."):
        assert storage.resolve_input(outside) is None


def test_purge_removes_expired_jobs_and_stale_aborted_submits(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    expired, kept, aborted = storage.job("1" * 32), storage.job("2" * 32), storage.job("3" * 32)
    expired.write_final("succeeded", ttl=0)
    kept.write_final("succeeded", ttl=60)
    aborted.dir.mkdir(parents=True)
    os.utime(aborted.dir, (time.time() - 2 * 86_400,) * 2)
    assert sorted(storage.purge_expired(time.time() + 1)) == ["1" * 32, "3" * 32]
    assert kept.dir.exists()


@pytest.mark.parametrize("command", ["api", "worker", "submit", "status", "results", "demo"])
def test_every_command_documents_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert f"usage: python -m services.batch {command}" in capsys.readouterr().out
