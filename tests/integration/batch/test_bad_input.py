"""Bad input gets a clear error naming columns and rows — 422 at submit when it can be
checked then, else a failed job with the same kind of report — and leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from services.batch.settings import BatchSettings
from tests.integration.batch.harness import TestClient, WorkerProcess, wait_final, write_parquet

pytestmark = pytest.mark.integration

CSV = {"Content-Type": "text/csv"}
GOOD = "student,balance,income\nNo,100.5,20000\nYes,900,12000\n"


def _error(response: Any, status: int = 422) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def _no_jobs_left(settings: BatchSettings) -> bool:
    return not any((settings.storage_dir / "jobs").iterdir())


@pytest.mark.parametrize(
    ("body", "needle", "column", "rows"),
    [
        ("student,balance\nNo,1\n", "missing column(s) income", "income", []),
        (GOOD + "No,,5000\n", "missing values (feature is not nullable)", "balance", [3]),
        (GOOD + "No,NaN,5000\n", "missing values (feature is not nullable)", "balance", [3]),
        (GOOD + "No,5,abc\nNo,5,x1\n", "values that are not numbers", "income", [3, 4]),
        (GOOD + "Maybe,5,100\n", "unknown levels", "student", [3]),
        (GOOD + "No,-5,100\n", "values below min 0", "balance", [3]),
    ],
)
def test_bad_csv_is_refused_with_column_and_rows(
    api: TestClient, settings: BatchSettings, body: str, needle: str, column: str, rows: list[int]
) -> None:
    error = _error(api.post("/api/v1/jobs", content=body.encode(), headers=CSV))
    assert needle in error["message"]
    assert any(d["column"] == column and d["rows"] == rows for d in error["details"]), error
    assert _no_jobs_left(settings)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty file"),
        (b"student,balance,income\n", "no data rows"),
        (bytes(range(256)) * 8, "not a readable CSV file"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "not a readable CSV file"),
        (b'{"student": "No", "balance": 1}\n{"student": "Yes", "balance": 2}\n', "missing column"),
        (b"student,balance,income\nNo,1\n", "not a readable CSV file"),
    ],
    ids=["empty", "header-only", "binary", "png", "json", "ragged"],
)
def test_files_that_are_not_csv_tables_are_refused(
    api: TestClient, settings: BatchSettings, content: bytes, needle: str
) -> None:
    error = _error(api.post("/api/v1/jobs", content=content, headers=CSV))
    assert needle in error["message"]
    assert _no_jobs_left(settings)


def test_parquet_with_a_wrong_column_type_is_refused(api: TestClient, tmp_path: Path) -> None:
    frame = pd.DataFrame({"student": ["No"], "balance": [1.0], "income": ["12000"]})
    path = write_parquet(frame, tmp_path / "typed.parquet")
    error = _error(
        api.post(
            "/api/v1/jobs",
            content=path.read_bytes(),
            headers={"Content-Type": "application/vnd.apache.parquet"},
        )
    )
    [detail] = error["details"]
    assert detail["column"] == "income"
    assert detail["message"].startswith("expected numbers, file has ")


def test_declared_parquet_that_is_not_parquet_is_refused(api: TestClient) -> None:
    headers = {"Content-Type": "application/vnd.apache.parquet"}
    error = _error(api.post("/api/v1/jobs", content=GOOD.encode(), headers=headers))
    assert "not a Parquet file" in error["message"]


def test_json_rows_with_nan_and_bad_types_are_refused(api: TestClient) -> None:
    body = (
        b'{"rows": [{"student": "No", "balance": NaN, "income": 1}, '
        b'{"student": "No", "balance": 1, "income": "lots"}]}'
    )
    error = _error(
        api.post("/api/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    )
    found = {(d["column"], tuple(d["rows"])) for d in error["details"]}
    assert found == {("balance", (1,)), ("income", (2,))}


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"rows": [], "path": "x.csv"}, 422, "either rows or path"),
        ({}, 422, "either rows or path"),
        ({"rows": []}, 422, "rows: List should have at least 1 item"),
        ({"path": "../../../etc/passwd"}, 422, "not a file in an allowed input folder"),
        ({"path": "/etc/hostname"}, 422, "not a file in an allowed input folder"),
        ({"rows": [], "colour": "red"}, 422, "request failed validation"),
        (
            {"rows": [{"student": "No", "balance": 1, "income": 2, "row": 7}], "id_column": "row"},
            422,
            "clashes with a result column",
        ),
        (
            {"rows": [{"student": "No", "balance": 1, "income": 2}], "id_column": "id"},
            422,
            "id column 'id' is not in the rows",
        ),
    ],
)
def test_malformed_json_submissions_are_refused(
    api: TestClient, body: dict[str, Any], status: int, needle: str
) -> None:
    assert needle in _error(api.post("/api/v1/jobs", json=body), status)["message"]


def test_too_many_json_rows_and_unknown_media_types_are_refused(
    api: TestClient, settings: BatchSettings
) -> None:
    rows = [{"student": "No", "balance": 1, "income": 2}] * (settings.max_json_rows + 1)
    error = _error(api.post("/api/v1/jobs", json={"rows": rows}), 422)  # the doc's maxItems
    assert f"at most {settings.max_json_rows} rows" in error["message"]
    error = _error(
        api.post("/api/v1/jobs", content=b"<xml/>", headers={"Content-Type": "application/xml"}),
        415,
    )
    assert "unsupported Content-Type" in error["message"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_bad_row_beyond_the_submit_check_fails_the_job_with_its_row(
    redis: Any,
    tmp_path: Path,
    model_dir: Path,
    fmt: str,
    applicants: Callable[[int, int], pd.DataFrame],
    spawn_worker: Callable[..., WorkerProcess],
) -> None:
    from tests.integration.batch.conftest import make_settings

    settings = make_settings(redis, tmp_path, model_dir, submit_check_rows=100, chunk_rows=2_000)
    frame = applicants(5_000, 9)
    frame.loc[4_321, "income"] = -1.0  # input row 4,322
    path = tmp_path / f"book.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        write_parquet(frame, path, row_group_size=1_000)
    from services.batch.api.app import create_app

    with TestClient(create_app(settings)) as client:
        headers = {"Content-Type": "text/csv" if fmt == "csv" else "application/octet-stream"}
        response = client.post("/api/v1/jobs", content=path.read_bytes(), headers=headers)
        assert response.status_code == 202, response.text
        spawn_worker(settings, burst=True).wait(120)
        final = wait_final(client, response.json()["job_id"], 30)
        results = client.get(f"/api/v1/jobs/{final['job_id']}/results")
    assert final["state"] == "failed"
    assert "income: 1 values below min 0 (rows 4322)" in final["error"]["message"]
    assert final["error"]["details"][0]["rows"] == [4322]
    assert results.status_code == 409
