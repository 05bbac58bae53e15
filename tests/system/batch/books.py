"""Loan books for the fault suite: synthetic applicants with a unique id per row, sent in
each way the API takes them (JSON rows, raw CSV, a multipart CSV form, raw Parquet), and
the checks that a job's results hold every input row exactly once."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from services.core.datasets import load_config
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel
from services.core.synthetic import ApplicantGenerator

ID = "loan_id"
KINDS = ("json", "csv", "form", "parquet")


@dataclass(frozen=True)
class Book:
    """One submission: ``kind`` says how it is sent; ``key`` is its Idempotency-Key."""

    name: str
    kind: str
    frame: pd.DataFrame
    key: str | None

    @property
    def rows(self) -> int:
        return len(self.frame)


def make_books(count: int, seed: int, min_rows: int, max_rows: int, prefix: str) -> list[Book]:
    """``count`` books of ``min_rows``–``max_rows`` rows, cycling through the input kinds;
    every other one carries an Idempotency-Key. Ids are unique across all books."""
    generator = ApplicantGenerator.from_config(load_config("default"))
    sizes = np.random.default_rng(seed).integers(min_rows, max_rows + 1, count)
    books = []
    for i, size in enumerate(sizes):
        name = f"{prefix}{i:02d}"
        frame = generator.sample(int(size), seed=seed * 1000 + i)
        frame["student"] = frame["student"].astype(str)
        frame.insert(0, ID, [f"{name}-{n:06d}" for n in range(int(size))])
        key = f"book-{name}-{seed}" if i % 2 == 0 else None
        books.append(Book(name, KINDS[i % len(KINDS)], frame, key))
    return books


def submit(client: httpx.Client, book: Book) -> httpx.Response:
    """POST the book the way its kind says, with its Idempotency-Key if it has one."""
    headers = {"Idempotency-Key": book.key} if book.key else {}
    if book.kind == "json":
        body = {"rows": book.frame.to_dict(orient="records"), "id_column": ID}
        return client.post("/api/v1/jobs", json=body, headers=headers)
    if book.kind == "form":
        files = {"file": (f"{book.name}.csv", book.frame.to_csv(index=False), "text/csv")}
        return client.post("/api/v1/jobs", files=files, data={"id_column": ID}, headers=headers)
    if book.kind == "csv":
        data = book.frame.to_csv(index=False).encode()
        content_type = "text/csv"
    else:
        sink = io.BytesIO()
        table = pa.Table.from_pandas(book.frame, preserve_index=False)
        pq.write_table(table, sink, row_group_size=5_000)
        data, content_type = sink.getvalue(), "application/vnd.apache.parquet"
    return client.post(
        "/api/v1/jobs",
        content=data,
        params={"id_column": ID},
        headers={**headers, "Content-Type": content_type},
    )


def expected_probabilities(model: LoadedModel, book: Book) -> np.ndarray[Any, Any]:
    """What in-process scoring of the book gives, row by row."""
    frame = book.frame.drop(columns=[ID])
    return np.asarray(model.probabilities(encode_frame(model.contract.features, frame)))


def check_succeeded(
    client: httpx.Client, job_id: str, book: Book, want: np.ndarray[Any, Any]
) -> pd.DataFrame:
    """The job's status and results hold every input row exactly once, in input order,
    with its id and a probability in [0, 1] equal to in-process scoring."""
    status = client.get(f"/api/v1/jobs/{job_id}").json()
    assert status["state"] == "succeeded", status
    assert status["rows_total"] == status["rows_done"] == book.rows, status
    assert status["summary"]["rows"] == book.rows, status
    response = client.get(f"/api/v1/jobs/{job_id}/results", params={"format": "parquet"})
    assert response.status_code == 200, response.text
    results = pq.read_table(pa.BufferReader(response.content)).to_pandas()
    rows = results["row"].to_numpy()
    duplicated = int(pd.Series(rows).duplicated().sum())
    missing = book.rows - len(np.intersect1d(rows, np.arange(1, book.rows + 1)))
    assert (len(results), duplicated, missing) == (book.rows, 0, 0), (
        f"{book.name}: {len(results)} result rows for {book.rows} input rows, "
        f"{duplicated} duplicated, {missing} missing"
    )
    np.testing.assert_array_equal(rows, np.arange(1, book.rows + 1))
    assert results[ID].astype(str).tolist() == book.frame[ID].tolist()
    probability = results["probability"].to_numpy(np.float64)
    assert ((probability >= 0) & (probability <= 1)).all()
    np.testing.assert_allclose(probability, want, rtol=0, atol=1e-12)
    return results
