"""JSON Lines input: recognised, checked at submit, split into typed parts and scored
like any other format, with bad lines and rows named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.batch import formats
from services.batch.client.commands import download_format
from services.batch.client.http import BatchClient
from services.batch.domain import BadInput
from services.batch.formats.jsonl import FORMAT as JSONL
from services.batch.formats.jsonl import check_jsonl
from services.batch.state.storage import JobPaths, Storage
from services.batch.worker.local import run_local
from services.batch.worker.split import split_input
from services.core.datasets import load_config
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel

pytestmark = pytest.mark.unit
FEATURES = load_config("default").features


def _jsonl(path: Path, rows: list[dict[str, object]], blank_every: int = 0) -> Path:
    lines = []
    for n, row in enumerate(rows, 1):
        lines.append(json.dumps(row))
        if blank_every and n % blank_every == 0:
            lines.append("")
    path.write_text("\n".join(lines) + "\n")
    return path


def _rows(n: int) -> list[dict[str, object]]:
    return [{"student": "No", "balance": float(i), "income": 1_000 + i} for i in range(n)]


def test_the_registry_knows_json_lines_by_media_type_suffix_and_first_bytes(
    tmp_path: Path,
) -> None:
    assert formats.for_media_type("application/x-ndjson") is JSONL
    assert formats.for_file_name("Book.JSONL") is JSONL
    assert formats.for_file_name("book.ndjson") is JSONL
    (tmp_path / "a").write_bytes(b'\xef\xbb\xbf \n{"student": "No"}\n')
    (tmp_path / "b").write_text("student,balance,income\n")
    assert formats.detect(tmp_path / "a") is JSONL
    assert formats.detect(tmp_path / "b").name == "csv"
    assert formats.detect(tmp_path / "a", "csv").name == "csv"  # what was declared holds
    assert formats.detect(tmp_path / "b", "jsonl") is JSONL


def test_check_passes_good_objects_and_names_bad_rows(tmp_path: Path) -> None:
    rows = _rows(60)
    rows[55]["balance"] = -1
    path = _jsonl(tmp_path / "in.jsonl", rows, blank_every=10)
    check_jsonl(path, FEATURES, None, check_rows=55)
    with pytest.raises(BadInput, match="values below min 0 \\(rows 56\\)"):
        check_jsonl(path, FEATURES, None, check_rows=60)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "no data rows"),
        ('{"student": "No", "balance": 1}\n', "missing column(s) income"),
        ('{"student": "No", "balance": 1, "income": 2}\n{"student": \n', "line 2 is not valid"),
        ('{"student": "No", "balance": 1, "income": 2}\n[1, 2, 3]\n', "line 2 is not a JSON"),
        ('{"student": "No", "balance": "lots", "income": 2}\n', "balance"),
    ],
    ids=["empty", "missing-key", "broken-line", "not-an-object", "text-number"],
)
def test_check_refuses_what_cannot_be_scored(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(text)
    with pytest.raises(BadInput) as caught:
        check_jsonl(path, FEATURES, None, check_rows=10)
    assert needle in caught.value.message + json.dumps(caught.value.details)


def test_split_writes_typed_parts_and_reports_rows_input_wide(tmp_path: Path) -> None:
    rows = _rows(50)
    rows[3]["balance"] = None  # null and a missing key are both missing values
    del rows[4]["income"]
    path = _jsonl(tmp_path / "in.jsonl", rows)
    with pytest.raises(BadInput) as caught:
        list(split_input(path, JSONL, JobPaths(tmp_path, "a" * 32), 20, FEATURES, None))
    assert {d["column"]: d["rows"] for d in caught.value.details} == {
        "balance": [4],
        "income": [5],
    }
    rows[3]["balance"], rows[4]["income"] = 3.0, 1_004
    _jsonl(path, rows, blank_every=7)
    specs = list(split_input(path, JSONL, JobPaths(tmp_path, "b" * 32), 20, FEATURES, None))
    assert [(s.index, s.offset, s.rows) for s in specs] == [(0, 0, 20), (1, 20, 20), (2, 40, 10)]
    part = pq.read_table(specs[2].path)
    assert part.schema.field("income").type == pa.float64()
    assert part.column("balance").to_pylist() == [float(i) for i in range(40, 50)]


def test_a_json_lines_book_scores_like_in_process(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame = applicants(2_345, 7)
    frame["loan_id"] = [f"L{i}" for i in range(len(frame))]
    source = _jsonl(tmp_path / "book.jsonl", frame.to_dict(orient="records"))
    result = run_local(model, Storage(tmp_path / "store"), source, 1_000, id_column="loan_id")
    scored = pa.concat_tables([pq.read_table(p) for p in result.result_files]).to_pandas()
    want = model.predict(encode_frame(model.contract.features, frame))
    assert scored["row"].tolist() == list(range(1, 2_346))
    assert scored["loan_id"].tolist() == frame["loan_id"].tolist()
    np.testing.assert_array_equal(scored["probability"].to_numpy(), want.probability)
    assert (result.rows, result.positives) == (2_345, int(want.label.sum()))


def test_the_client_uploads_a_jsonl_file_as_ndjson(tmp_path: Path) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["content-type"])
        return httpx.Response(202, json={"job_id": "f" * 32, "state": "queued"})

    client = BatchClient("http://batch", transport=httpx.MockTransport(answer))
    for name in ("book.jsonl", "book.csv", "book.pq", "book.txt"):
        client.submit_file(_jsonl(tmp_path / name, _rows(1)))
    assert seen == [
        "application/x-ndjson",
        "text/csv",
        "application/vnd.apache.parquet",
        "text/csv",
    ]
    assert [download_format(n) for n in ("a.csv", "a.parquet", "a.jsonl")] == [
        "csv",
        "parquet",
        "parquet",  # results download as CSV or Parquet only
    ]
