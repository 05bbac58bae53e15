"""A chunk's decisions recorded one row per decision (``DECISIONS_BATCH_LAYOUT=row``,
``services.batch.worker.recording``): written in blocks of ``BLOCK_ROWS``, in input
order, together exactly the chunk's rows, from a pandas frame or an Arrow table; in the
``chunk`` layout one document under the chunk's index; and a record that is not stored in
time fails the chunk (``RecordNotFlushed``). The database is a stand-in store (the
writer's ``store`` argument); the PostgreSQL paths are in
``tests/integration/batch/test_decision_record.py``."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from prometheus_client import CollectorRegistry

from services.batch.worker import recording
from services.batch.worker.record_block import chunk_block
from services.batch.worker.recording import (
    ChunkRecord,
    RecordNotFlushed,
    chunk_decisions,
    header,
    record_chunk,
)
from services.batch.worker.scoring import score_frame
from services.core.decisions.chunk import ChunkDocument
from services.core.decisions.chunk_codec import chunk_document
from services.core.decisions.metrics import DecisionMetrics
from services.core.decisions.record import InputsMode, job_day
from services.core.decisions.settings import DecisionSettings
from services.core.decisions.writer import DecisionWriter
from services.core.model_store import LoadedModel

pytestmark = pytest.mark.unit

CREATED = 1_767_225_600.0


class Store:
    """A decision store that keeps what it is given."""

    def __init__(self) -> None:
        self.csv: list[tuple[bytes, list[date]]] = []
        self.chunks: list[ChunkDocument] = []

    def insert_csv(self, text: bytes, days: list[date]) -> int:
        self.csv.append((text, days))
        return text.count(b"\n")

    def insert_chunk(self, doc: ChunkDocument) -> int:
        self.chunks.append(doc)
        return len(doc)

    def close(self) -> None:
        pass


def writer_for(store: Store, tmp_path: Path, layout: str) -> DecisionWriter:
    settings = DecisionSettings(
        dsn="postgresql://unused@127.0.0.1:1/x",
        spool_dir=tmp_path / "spool",
        batch_layout=layout,
        inputs="values",
    )
    return DecisionWriter(settings, DecisionMetrics(CollectorRegistry()), store)  # type: ignore[arg-type]


def lines(text: bytes, drop: int) -> list[list[str]]:
    """CSV rows without the column ``drop`` (the decision time: one per block)."""
    return [row[:drop] + row[drop + 1 :] for row in csv.reader(io.StringIO(text.decode()))]


def scored(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> tuple[pd.DataFrame, pa.Table]:
    frame = applicants(450, 9)
    result = score_frame(model, frame, 1, reasons_k=2)
    frame["unused"] = 1  # an input column the model does not read: not recorded
    return frame, result


@pytest.mark.parametrize("as_arrow", [False, True])
def test_row_layout_writes_the_chunk_in_blocks_in_input_order(
    tmp_path: Path,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
    as_arrow: bool,
) -> None:
    monkeypatch.setattr(recording, "BLOCK_ROWS", 200)
    frame, result = scored(model, applicants)
    store = Store()
    writer = writer_for(store, tmp_path, "row").start()
    job = ChunkRecord(writer, "job-rows", CREATED, "caller")
    inputs = pa.Table.from_pandas(frame, preserve_index=False) if as_arrow else frame
    try:
        record_chunk(model, job, inputs, result, chunk_index=3)
    finally:
        writer.close(5)
    names = [f.name for f in model.contract.features]
    whole = chunk_block(header(model, job), frame[names], result)
    drop = whole.table(InputsMode.VALUES, writer.salt).column_names.index("decided_at")
    assert [len(lines(text, drop)) for text, _ in store.csv] == [200, 200, 50]
    assert [days for _, days in store.csv] == [[job_day(CREATED)]] * 3
    got = [row for text, _ in store.csv for row in lines(text, drop)]
    assert got == lines(whole.csv(InputsMode.VALUES, writer.salt), drop)
    assert store.chunks == []


def test_chunk_layout_records_one_document_under_the_chunk_s_index(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame, result = scored(model, applicants)
    store = Store()
    writer = writer_for(store, tmp_path, "chunk").start()
    try:
        record_chunk(model, ChunkRecord(writer, "job-doc", CREATED, "k"), frame, result, 4)
    finally:
        writer.close(5)
    (doc,) = store.chunks
    assert (doc.job_id, doc.chunk_index, doc.first_row, doc.last_row) == ("job-doc", 4, 1, 450)
    assert (doc.caller, doc.day) == ("k", job_day(CREATED))
    assert (doc.model.name, doc.model.version, doc.model.track) == (
        model.name,
        model.version,
        "batch",
    )
    assert doc.threshold == model.contract.threshold
    assert store.csv == []


def test_a_record_not_stored_in_time_fails_the_chunk(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame, result = scored(model, applicants)
    store = Store()
    writer = writer_for(store, tmp_path, "row")  # never started: nothing is written
    job = ChunkRecord(writer, "job-late", CREATED, "caller", flush_seconds=0.2)
    with pytest.raises(RecordNotFlushed, match="decisions of job job-late not written in time"):
        record_chunk(model, job, frame, result)
    assert store.csv == []


def test_the_chunk_layout_hashes_the_inputs_under_the_writer_s_salt(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame, result = scored(model, applicants)
    store = Store()
    settings = DecisionSettings(
        dsn="postgresql://unused@127.0.0.1:1/x",
        spool_dir=tmp_path / "spool",
        batch_layout="chunk",
        inputs="hash",
        hash_salt="pepper",
    )
    writer = DecisionWriter(settings, DecisionMetrics(CollectorRegistry()), store)  # type: ignore[arg-type]
    writer.start()
    job = ChunkRecord(writer, "job-hash", CREATED, "k")
    try:
        record_chunk(model, job, frame, result)  # no chunk index: the first chunk's, 0
        recording.submit_record(model, job, frame, result).wait()
    finally:
        writer.close(5)
    names = [f.name for f in model.contract.features]
    salted = chunk_document(header(model, job), 0, frame[names], result, InputsMode.HASH, "pepper")
    unsalted = chunk_document(header(model, job), 0, frame[names], result, InputsMode.HASH)
    assert salted.payload_sha256 != unsalted.payload_sha256
    assert [(d.chunk_index, d.payload_sha256) for d in store.chunks] == [
        (0, salted.payload_sha256)
    ] * 2


def test_per_row_decisions_carry_their_time_and_refuse_inputs_of_another_length(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame, result = scored(model, applicants)
    job = ChunkRecord(None, "job-ref", CREATED, "caller")  # type: ignore[arg-type]
    before = datetime.now(UTC)
    decisions = chunk_decisions(model, job, frame, result)
    after = datetime.now(UTC)
    assert len(decisions) == 450
    assert all(before <= d.decided_at <= after for d in decisions)
    longer = pd.concat([frame, frame.iloc[:1]], ignore_index=True)  # one input row too many
    with pytest.raises(ValueError, match="zip"):
        chunk_decisions(model, job, longer, result)


def test_one_encoder_thread_per_process_builds_the_documents_in_turn() -> None:
    pool = recording._encoder_thread()
    assert recording._encoder_thread() is pool
    release = threading.Event()
    first = pool.submit(release.wait, 10)
    second = pool.submit(lambda: threading.current_thread().name)
    try:  # a busy thread and work waiting: a pool of more threads would start another now
        threads = [t.name for t in threading.enumerate() if t.name.startswith("decision-chunk")]
    finally:
        release.set()
    assert len(threads) == 1
    assert first.result(10) is True
    assert second.result(10) in threads
