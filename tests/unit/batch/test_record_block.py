"""The column-wise record of a chunk (``chunk_block``) gives exactly the rows of the
per-row reference (``chunk_decisions`` + ``to_row``), in both inputs modes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from services.batch.worker.record_block import chunk_block
from services.batch.worker.recording import TRACK, ChunkRecord, chunk_decisions
from services.batch.worker.scoring import score_frame
from services.core.decisions.block import DecisionBlock
from services.core.decisions.record import (
    COLUMNS,
    BatchHeader,
    InputsMode,
    ModelIdentity,
    Row,
    inputs_digest,
    to_row,
)
from services.core.model_store import LoadedModel

pytestmark = pytest.mark.unit

SALT = "pepper"
CREATED = 1_767_225_600.0


def batch_header(model: Any, job_id: str, created_at: float) -> BatchHeader:
    identity = ModelIdentity(model.name, model.version, TRACK)
    return BatchHeader(identity, model.contract.threshold, job_id, created_at, "caller")


def block_of(model: Any, frame: pd.DataFrame, result: pa.Table) -> DecisionBlock:
    return chunk_block(batch_header(model, "job-1", CREATED), frame, result)


def reference(model: Any, frame: pd.DataFrame, result: pa.Table, mode: InputsMode) -> list[Row]:
    job = ChunkRecord(None, "job-1", CREATED, "caller")  # type: ignore[arg-type]
    return [to_row(d, mode, SALT) for d in chunk_decisions(model, job, frame, result)]


def assert_same_rows(model: Any, frame: pd.DataFrame, result: pa.Table) -> None:
    block = block_of(model, frame, result)
    for mode in InputsMode:
        expected = reference(model, frame, result, mode)
        got = block.rows(mode, SALT)
        assert len(got) == len(expected)
        at = COLUMNS.index("decided_at")
        for new, old in zip(got, expected, strict=True):
            assert new[at] == block.decided_at
            new, old = new[:at] + new[at + 1 :], old[:at] + old[at + 1 :]
            assert [type(v) for v in new] == [type(v) for v in old]
            assert new == old  # JSON text byte for byte, hence the same digest
        if mode is InputsMode.VALUES:  # and parsed
            i, r = COLUMNS.index("inputs"), COLUMNS.index("reasons")
            for new, old in zip(got, expected, strict=True):
                assert json.loads(new[i]) == json.loads(old[i])
                assert json.loads(new[r]) == json.loads(old[r])
        else:
            h = COLUMNS.index("inputs_hash")
            job = ChunkRecord(None, "job-1", CREATED, "caller")  # type: ignore[arg-type]
            decisions = chunk_decisions(model, job, frame, result)
            assert [row[h] for row in got] == [inputs_digest(d.inputs, SALT) for d in decisions]
        # the CSV holds the same text (null: an unquoted empty field)
        text = block.csv(mode, SALT).decode()
        table = block.table(mode, SALT)
        lines = list(csv.reader(io.StringIO(text)))
        assert len(lines) == len(got)
        for line, values in zip(lines, table.to_pylist(), strict=True):
            assert line == ["" if v is None else v for v in values.values()]
        for text_line in text.splitlines():  # request_id and item: null, unquoted and empty
            assert ',,,"job-1",' in text_line


def synthetic(k: int) -> tuple[Any, pd.DataFrame, pa.Table]:
    frame = pd.DataFrame(
        {
            "balance": [1.0, np.nan, 1e-07, 1e16, -0.0, 2.5e-300, 0.1 + 0.2, 123456.789],
            "student": pd.Categorical(
                ["No", None, 'Y"es\\', "Nö", "No", "No", "€", "No"],
                categories=["No", 'Y"es\\', "Nö", "€"],
            ),
            "count": np.arange(8, dtype=np.int64) * 7 - 3,
            "zz": [True, False, None, True, 1, 0, "x", 2.5],
        }
    )
    columns: dict[str, Any] = {
        "row": pa.array(np.arange(11, 19), pa.int64()),
        "probability": pa.array([0.1, 0.5, 1 / 3, 0.0, 1.0, 2e-9, 0.99, 0.25], pa.float32()),
        "prediction": pa.array([0, 1, 0, 0, 1, 0, 1, 0], pa.int8()),
        "risk_band": pa.array(
            ["low", "high", "low", "low", "high", "low", "high", "low"]
        ).dictionary_encode(),
    }
    features = ["balance", "student", "count", "zz", "nowhere"]
    statements = ["Balance is high", 'Is "a" student', "Count é", None, "Not an input"]
    for i in range(1, k + 1):
        pick = [(r + i) % 6 for r in range(8)]  # 5: no reason
        columns[f"reason_{i}"] = pa.array(
            [statements[p] if p < 5 else None for p in pick]
        ).dictionary_encode()
        columns[f"reason_{i}_feature"] = pa.array(
            [features[p] if p < 5 else None for p in pick]
        ).dictionary_encode()
        columns[f"reason_{i}_contribution"] = pa.array(
            [[0.125, -1e-05, 1 / 7, 3.0, 1e20][p] if p < 5 else None for p in pick], pa.float64()
        )
    model = SimpleNamespace(name="m", version="7", contract=SimpleNamespace(threshold=0.3))
    return model, frame, pa.table(columns)


@pytest.mark.parametrize("k", [0, 1, 4])
def test_synthetic_chunk_rows_are_the_reference_rows(k: int) -> None:
    assert_same_rows(*synthetic(k))


@pytest.mark.parametrize("k", [0, 4])
def test_scored_chunk_rows_are_the_reference_rows(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame], k: int
) -> None:
    frame = applicants(3_000, 5)
    frame["student"] = frame["student"].astype("category")
    frame.loc[frame.index[::7], "balance"] = np.nan
    frame.loc[frame.index[::11], "student"] = None
    result = score_frame(model, frame, 101, reasons_k=k)
    assert_same_rows(model, frame, result)
    if k:
        block = block_of(model, frame, result)
        assert any(r != "[]" for r in block.reasons.to_pylist())


def test_a_frame_without_input_columns_records_empty_inputs_per_row(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame = applicants(4, 6)
    result = score_frame(model, frame, 1)
    empty = pd.DataFrame(index=frame.index)  # no column to record: "{}" for every row
    block = block_of(model, empty, result)
    assert block.inputs.to_pylist() == ["{}"] * 4
    assert_same_rows(model, empty, result)
