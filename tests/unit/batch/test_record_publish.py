"""A chunk's result file is published only once its decision record is stored: the record
is built and inserted while the result file is written under a hidden name, and the file
is renamed into place after the insert commits (or, in an outage, after the spool file is
written). A record that cannot be built fails the chunk: no result file, so it is retried.

The database is a stand-in store (the writer's ``store`` argument) that notes what the
result folder holds when the insert runs; the PostgreSQL paths, SIGKILL and replay are in
``tests/integration/batch/test_decision_record.py``."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prometheus_client import CollectorRegistry

from services.batch.domain import ChunkSpec
from services.batch.worker import recording
from services.batch.worker.chunk import run_chunk
from services.batch.worker.recording import ChunkRecord
from services.core.decisions.chunk import ChunkDocument
from services.core.decisions.metrics import DecisionMetrics
from services.core.decisions.settings import DecisionSettings
from services.core.decisions.writer import DecisionWriter
from services.core.model_store import LoadedModel

pytestmark = pytest.mark.unit


class Store:
    """A decision store whose chunk insert runs ``on_insert`` first (then commits, or
    raises what it raises)."""

    def __init__(self, on_insert: Callable[[ChunkDocument], None]) -> None:
        self.on_insert = on_insert
        self.chunks: list[ChunkDocument] = []

    def insert_chunk(self, doc: ChunkDocument) -> int:
        self.on_insert(doc)
        self.chunks.append(doc)
        return len(doc)

    def close(self) -> None:
        pass


def chunk_job(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> tuple[ChunkSpec, Path]:
    source = tmp_path / "in.parquet"
    frame = applicants(500, 3)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source)
    (tmp_path / "results").mkdir()
    return ChunkSpec(0, str(source), 0, 500, None), tmp_path / "results" / "part-000000.parquet"


def writer_with(store: Store, tmp_path: Path) -> tuple[DecisionWriter, CollectorRegistry]:
    registry = CollectorRegistry()
    settings = DecisionSettings(dsn="postgresql://unused@127.0.0.1:1/x", spool_dir=tmp_path / "sp")
    return DecisionWriter(settings, DecisionMetrics(registry), store).start(), registry  # type: ignore[arg-type]


def test_the_result_file_is_published_only_after_its_record_commits(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    spec, path = chunk_job(tmp_path, model, applicants)
    inserting, commit = threading.Event(), threading.Event()
    seen: list[list[str]] = []

    def hold(doc: ChunkDocument) -> None:
        seen.append(sorted(p.name for p in path.parent.iterdir()))
        inserting.set()
        assert commit.wait(30)

    store = Store(hold)
    writer, _ = writer_with(store, tmp_path)
    record = ChunkRecord(writer, "job-order", 1_767_225_600.0, "caller")
    done: list[Any] = []
    scoring = threading.Thread(
        target=lambda: done.append(run_chunk(model, spec, path, None, record=record, reasons_k=2))
    )
    try:
        scoring.start()
        assert inserting.wait(60)
        # the insert is under way: the result file may be written, not yet published
        assert not path.exists()
        scoring.join(0.5)
        assert scoring.is_alive()
        assert not path.exists()
        commit.set()
        scoring.join(60)
    finally:
        commit.set()
        writer.close(5)
    assert done
    assert done[0].rows == 500
    assert path.exists()
    assert all(not name.startswith("part-") for name in seen[0])
    assert [(d.first_row, d.last_row) for d in store.chunks] == [(1, 500)]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no staged file left


def test_a_failed_insert_spools_the_chunk_before_its_result_is_published(
    tmp_path: Path, model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    spec, path = chunk_job(tmp_path, model, applicants)

    def down(doc: ChunkDocument) -> None:
        raise OSError("database unreachable")

    writer, registry = writer_with(Store(down), tmp_path)
    spooled_before_publish: list[bool] = []
    append = writer.spool.append_chunk

    def spool(doc: ChunkDocument) -> bool:
        ok = append(doc)
        spooled_before_publish.append(ok and not path.exists())
        return ok

    writer.spool.append_chunk = spool  # type: ignore[method-assign]
    record = ChunkRecord(writer, "job-down", 1_767_225_600.0, "caller")
    try:
        run_chunk(model, spec, path, None, record=record, reasons_k=2)
    finally:
        writer.close(5)
    assert spooled_before_publish == [True]
    assert path.exists()
    assert [p.suffix for p in writer.spool.files()] == [".chunk"]
    assert registry.get_sample_value("decisions_spooled_total") == 500


def test_a_record_that_cannot_be_built_fails_the_chunk_unpublished(
    tmp_path: Path,
    model: LoadedModel,
    applicants: Callable[[int, int], pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec, path = chunk_job(tmp_path, model, applicants)

    def broken(*args: Any, **kwargs: Any) -> ChunkDocument:
        raise ValueError("cannot encode")

    monkeypatch.setattr(recording, "chunk_document", broken)
    store = Store(lambda doc: None)
    writer, _ = writer_with(store, tmp_path)
    record = ChunkRecord(writer, "job-broken", 1_767_225_600.0, "caller")
    try:
        with pytest.raises(ValueError, match="cannot encode"):
            run_chunk(model, spec, path, None, record=record, reasons_k=2)
    finally:
        writer.close(5)
    assert not path.exists()
    assert not store.chunks
    assert not [p for p in path.parent.iterdir()]  # nor a staged file
