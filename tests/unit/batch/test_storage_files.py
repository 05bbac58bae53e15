"""Job files on shared storage (``services.batch.state.storage``) and chunk result files
(``services.batch.state.result_files``): where each file lives, that a reader never sees
half a file, which inputs a job may name, what is purged when, and what a result file's
metadata tells a retried chunk or a restored job."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.batch.domain import ChunkSummary
from services.batch.state import storage as storage_module
from services.batch.state.result_files import META_KEY, read_summary, write_result, write_table
from services.batch.state.storage import (
    ORPHAN_SECONDS,
    REMOVING,
    JobPaths,
    Storage,
    atomic_write,
    write_json,
)
from tests.support.batch_jobs import job_manifest

pytestmark = pytest.mark.unit

A, B, C = "a" * 32, "b" * 32, "c" * 32
DIGEST = "d" * 32


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_write_lands_whole_under_its_name_in_a_new_folder(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "file.txt"
    seen: list[Path] = []

    def write(tmp: Path) -> None:
        seen.append(tmp)
        tmp.write_text("whole")
        assert not target.exists()  # not visible before the rename

    assert atomic_write(target, write) == target
    assert target.read_text() == "whole"
    assert seen[0].parent == target.parent  # same folder: the rename is atomic
    assert seen[0].name.startswith(".file.txt.")
    assert seen[0].name.endswith(".tmp")
    assert leftovers(target.parent) == ["file.txt"]
    assert atomic_write(target, lambda tmp: tmp.write_text("again"), fsync=True) == target
    assert target.read_text() == "again"
    assert leftovers(target.parent) == ["file.txt"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    write_json(target, {"v": 1})

    def broken(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken, fsync=True)
    assert json.loads(target.read_text()) == {"v": 1}
    assert leftovers(tmp_path) == ["f.json"]


def test_an_fsync_write_syncs_the_written_file_before_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_size)
        real(fd)

    monkeypatch.setattr(storage_module.os, "fsync", fsync)
    atomic_write(tmp_path / "a", lambda tmp: tmp.write_text("12345"))
    assert synced == []
    atomic_write(tmp_path / "b", lambda tmp: tmp.write_text("12345"), fsync=True)
    assert synced == [5]


def test_a_job_s_files_live_in_its_folder(tmp_path: Path) -> None:
    paths = Storage(tmp_path).job(A)
    folder = tmp_path / "jobs" / A
    assert paths.job_id == A
    assert paths.dir == folder
    assert (paths.manifest, paths.final) == (folder / "job.json", folder / "final.json")
    assert (paths.parts, paths.results) == (folder / "parts", folder / "results")
    assert paths.input("csv") == folder / "input.csv"
    assert paths.part(7) == folder / "parts" / "part-000007.parquet"
    assert paths.result(1_234_567) == folder / "results" / "part-1234567.parquet"
    for bad in ("../" + A[3:], A.upper(), A + "0", ""):
        with pytest.raises(ValueError, match="not a job id"):
            JobPaths(tmp_path, bad)


def test_manifest_and_final_record_read_back_or_none(tmp_path: Path) -> None:
    paths = Storage(tmp_path).job(A)
    assert paths.read_manifest() is None
    assert paths.read_final() is None
    write_json(paths.manifest, job_manifest(A).model_dump())
    assert paths.read_manifest() == job_manifest(A)
    before = time.time()
    paths.write_final("failed", 600, {"error": {"message": "boom"}})
    final = paths.read_final()
    assert final is not None
    assert set(final) == {"state", "finished_at", "expires_at", "error"}
    assert final["state"] == "failed"
    assert before <= final["finished_at"] <= time.time()
    assert final["expires_at"] == final["finished_at"] + 600
    assert final["error"] == {"message": "boom"}
    paths.write_final("succeeded", 5)
    final = paths.read_final()
    assert final is not None
    assert set(final) == {"state", "finished_at", "expires_at"}
    paths.remove()
    assert not paths.dir.exists()
    paths.remove()  # already gone: no error


def test_storage_makes_its_folders_and_lists_only_job_folders(tmp_path: Path) -> None:
    storage = Storage(tmp_path / "root")
    for folder in ("jobs", "inputs", "idempotency"):
        assert (tmp_path / "root" / folder).is_dir()
    assert (storage.root, storage.jobs_dir) == (tmp_path / "root", tmp_path / "root" / "jobs")
    assert storage.inputs_dir == tmp_path / "root" / "inputs"
    assert storage.keys_dir == tmp_path / "root" / "idempotency"
    assert storage.input_dirs == [(tmp_path / "root" / "inputs").resolve()]
    assert storage.job_ids() == []
    for name in (C, A, "not-a-job", B.upper()):
        (storage.jobs_dir / name).mkdir()
    assert storage.job_ids() == [A, C]
    Storage(tmp_path / "root")  # the folders exist already: no error
    other = Storage(tmp_path / "r2", [tmp_path / "x", tmp_path / "y"])
    assert other.input_dirs == [(tmp_path / "x").resolve(), (tmp_path / "y").resolve()]


def test_an_idempotency_key_names_its_job_on_storage(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    assert storage.key_file(DIGEST) == tmp_path / "idempotency" / DIGEST
    for bad in ("../" + DIGEST[3:], DIGEST.upper(), DIGEST + "0", "", DIGEST[:31]):
        with pytest.raises(ValueError, match="not an idempotency digest"):
            storage.key_file(bad)
    assert storage.job_for_key(DIGEST) is None
    storage.remember_key(DIGEST, A)
    assert storage.key_file(DIGEST).read_text() == A
    assert storage.job_for_key(DIGEST) == A
    storage.key_file(DIGEST).write_text(f"  {B}\n")
    assert storage.job_for_key(DIGEST) == B
    storage.key_file(DIGEST).write_text("garbage")
    assert storage.job_for_key(DIGEST) is None
    assert leftovers(tmp_path / "idempotency") == [DIGEST]


def test_an_input_is_found_only_inside_an_allowed_folder(tmp_path: Path) -> None:
    extra = tmp_path / "extra"
    storage = Storage(tmp_path / "store", [tmp_path / "store" / "inputs", extra])
    inside = storage.inputs_dir / "x.csv"
    inside.write_text("a\n1\n")
    (extra / "t1").mkdir(parents=True)
    mine = extra / "t1" / "y.csv"
    mine.write_text("a\n1\n")
    outside = tmp_path / "z.csv"
    outside.write_text("a\n1\n")
    assert storage.resolve_input("x.csv") == inside.resolve()
    assert storage.resolve_input(str(inside)) == inside.resolve()
    assert storage.resolve_input("t1/y.csv") == mine.resolve()  # second folder
    assert storage.resolve_input(str(outside)) is None
    assert storage.resolve_input("../../z.csv") is None
    assert storage.resolve_input("missing.csv") is None
    assert storage.resolve_input("t1") is None  # a folder is not an input
    (storage.inputs_dir / "link.csv").symlink_to(outside)
    assert storage.resolve_input("link.csv") is None  # a link out of the folder
    # a key's inputs: only inside <folder>/<key id>/
    assert storage.resolve_input("y.csv", tenant="t1") == mine.resolve()
    assert storage.resolve_input(str(mine), tenant="t1") == mine.resolve()
    assert storage.resolve_input("x.csv", tenant="t1") is None
    assert storage.resolve_input(str(inside), tenant="t1") is None
    assert storage.resolve_input("../t2/y.csv", tenant="t1") is None


def test_a_name_the_os_refuses_is_skipped_for_the_next_folder(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    second.mkdir()
    (second / "x.csv").write_text("a\n")
    first.mkdir()
    (first / "x.csv").mkdir()  # a folder of that name in the first: not a file
    storage = Storage(tmp_path / "store", [first, second])
    assert storage.resolve_input("x.csv") == (second / "x.csv").resolve()
    loop = first / "loop.csv"
    loop.symlink_to(loop)  # resolving it fails (a symlink loop: was a RuntimeError, a 500)
    (second / "loop.csv").write_text("a\n")
    assert storage.resolve_input("loop.csv") == (second / "loop.csv").resolve()


def _job(storage: Storage, job_id: str, final: tuple[str, int] | None, manifest_too: bool) -> Path:
    paths = storage.job(job_id)
    paths.dir.mkdir(parents=True)
    if manifest_too:
        write_json(paths.manifest, job_manifest(job_id).model_dump())
    if final:
        paths.write_final(*final)
    return paths.dir


def test_purge_removes_expired_jobs_and_abandoned_submits_only(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    now = time.time()
    expired = _job(storage, A, ("succeeded", 10), True)
    live = _job(storage, B, ("failed", 3600), True)
    running = _job(storage, C, None, True)
    aborted = _job(storage, "1" * 32, None, False)
    fresh = _job(storage, "2" * 32, None, False)
    old = now - ORPHAN_SECONDS - 60
    for folder in (running, aborted):
        os.utime(folder, (old, old))
    assert storage.purge_expired(now + 20) == ["1" * 32, A]
    assert not expired.exists()
    assert not aborted.exists()
    assert live.exists()
    assert running.exists()  # a queued job never expires on storage
    assert fresh.exists()  # a submit still writing its files
    assert storage.purge_expired(now + 3601) == [B]
    assert storage.purge_expired(now + 3601) == []


def test_purge_reads_the_clock_when_not_told_and_keeps_a_final_without_expiry(
    tmp_path: Path,
) -> None:
    storage = Storage(tmp_path)
    _job(storage, A, ("succeeded", 0), True)
    assert storage.purge_expired() == [A]
    keep = storage.job(B)
    write_json(keep.final, {"state": "succeeded", "finished_at": 1.0})
    assert storage.purge_expired(time.time() + 10 * ORPHAN_SECONDS) == []
    assert keep.dir.exists()


def test_purge_skips_a_job_it_cannot_read(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    _job(storage, A, None, True)
    storage.job(A).final.write_text("{half")
    _job(storage, B, ("succeeded", 0), True)
    assert storage.purge_expired(time.time() + 1) == [B]
    assert storage.job(A).dir.exists()


def test_a_job_being_removed_leaves_the_listing_whole_before_any_file_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restore of lost jobs (another process) lists jobs and reads their files while a
    purge deletes one: it must never see the manifest without the final record (it would
    fail the expired job again and bring it back)."""
    storage = Storage(tmp_path)
    _job(storage, A, ("succeeded", 0), True)
    _job(storage, B, ("failed", 3600), True)
    seen: list[tuple[list[str], bool]] = []
    real = storage_module.shutil.rmtree

    def rmtree(path: Path, ignore_errors: bool = False) -> None:  # a pass-through spy
        seen.append((storage.job_ids(), Path(path).name.startswith(".")))
        real(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(storage_module.shutil, "rmtree", rmtree)
    assert storage.purge_expired(time.time() + 1) == [A]
    assert seen == [([B], True)]  # deleted under a hidden name, out of the listing
    assert sorted(p.name for p in storage.jobs_dir.iterdir()) == [B]


def test_a_removal_cut_short_is_finished_by_the_next_purge_and_a_gone_job_is_fine(
    tmp_path: Path,
) -> None:
    storage = Storage(tmp_path)
    left = storage.jobs_dir / f".{A}{REMOVING}"
    (left / "results").mkdir(parents=True)
    (left / "results" / "part-00000.parquet").write_bytes(b"x")
    _job(storage, B, ("failed", 3600), True)
    assert storage.job_ids() == [B]
    assert storage.purge_expired(time.time() + 1) == []
    assert sorted(p.name for p in storage.jobs_dir.iterdir()) == [B]
    storage.job(C).remove()  # never made: nothing to do, no error
    assert sorted(p.name for p in storage.jobs_dir.iterdir()) == [B]


def test_purging_a_job_frees_its_idempotency_key_unless_another_job_holds_it(
    tmp_path: Path,
) -> None:
    storage = Storage(tmp_path)
    other = "e" * 32
    for job_id, digest in ((A, DIGEST), (B, other), (C, None)):
        paths = storage.job(job_id)
        write_json(paths.manifest, job_manifest(job_id, idempotency=digest).model_dump())
        paths.write_final("succeeded", 0)
    storage.remember_key(DIGEST, A)
    storage.remember_key(other, "f" * 32)  # the key passed to a newer job
    assert storage.purge_expired(time.time() + 1) == [A, B, C]
    assert storage.job_for_key(DIGEST) is None
    assert storage.job_for_key(other) == "f" * 32
    # a manifest that cannot be read does not stop the purge
    broken = storage.job("3" * 32)
    broken.dir.mkdir(parents=True)
    broken.manifest.write_text("{half")
    broken.write_final("succeeded", 0)
    assert storage.purge_expired(time.time() + 1) == ["3" * 32]


def _result(rows: int) -> pa.Table:
    return pa.table(
        {
            "row": pa.array(range(1, rows + 1), pa.int64()),
            "probability": pa.array([0.25] * rows),
            "risk_band": pa.array(["low"] * rows).dictionary_encode(),
        }
    )


def test_a_result_file_carries_its_chunk_summary_and_keeps_other_metadata(
    tmp_path: Path,
) -> None:
    target = tmp_path / "results" / "part-000000.parquet"
    table = _result(5).replace_schema_metadata({b"other": b"kept"})
    summary = ChunkSummary(5, 2, {"low": 5}, "w:1", "7", seconds=1.5)
    write_result(target, table, summary, fsync=True)
    assert leftovers(target.parent) == ["part-000000.parquet"]
    meta = pq.read_schema(target).metadata
    assert meta[b"other"] == b"kept"
    assert json.loads(meta[META_KEY]) == {
        "rows": 5,
        "positives": 2,
        "bands": {"low": 5},
        "worker": "w:1",
        "model_version": "7",
    }
    assert pq.read_table(target).column("row").to_pylist() == [1, 2, 3, 4, 5]
    read = read_summary(target)
    assert read == ChunkSummary(5, 2, {"low": 5}, "w:1", "7", skipped=True)
    plain = tmp_path / "plain.parquet"
    write_result(plain, _result(1), ChunkSummary(1, 0), fsync=False)
    assert pq.read_schema(plain).metadata.keys() == {META_KEY}


def test_a_summary_written_before_workers_and_versions_were_recorded_reads_empty(
    tmp_path: Path,
) -> None:
    target = tmp_path / "old.parquet"
    old = {"rows": 3, "positives": 1, "bands": {"high": 3}}
    table = _result(3).replace_schema_metadata({META_KEY: json.dumps(old).encode()})
    pq.write_table(table, target)
    assert read_summary(target) == ChunkSummary(3, 1, {"high": 3}, "", "", skipped=True)


def _columns(path: Path) -> dict[str, pq.ColumnChunkMetaData]:
    group = pq.ParquetFile(path).metadata.row_group(0)
    return {group.column(i).path_in_schema: group.column(i) for i in range(group.num_columns)}


def test_results_dictionary_encode_text_delta_encode_rows_and_keep_number_statistics(
    tmp_path: Path,
) -> None:
    target = tmp_path / "r.parquet"
    write_table(_result(50), target)
    columns = _columns(target)
    assert "DELTA_BINARY_PACKED" in columns["row"].encodings
    assert not columns["row"].has_dictionary_page
    assert not columns["probability"].has_dictionary_page
    assert columns["risk_band"].has_dictionary_page
    assert columns["row"].is_stats_set
    assert columns["probability"].is_stats_set
    assert not columns["risk_band"].is_stats_set
    assert pq.read_table(target).equals(_result(50))


def test_a_result_without_text_or_integer_rows_is_written_plainly(tmp_path: Path) -> None:
    numbers = tmp_path / "n.parquet"
    write_table(pa.table({"row": pa.array([1.0, 2.0]), "p": pa.array([0.1, 0.2])}), numbers)
    columns = _columns(numbers)
    assert "DELTA_BINARY_PACKED" not in columns["row"].encodings
    assert not columns["p"].has_dictionary_page
    assert columns["p"].is_stats_set
    texts = tmp_path / "t.parquet"
    write_table(pa.table({"band": pa.array(["a", "b"]).dictionary_encode()}), texts)
    columns = _columns(texts)
    assert columns["band"].has_dictionary_page
    assert not columns["band"].is_stats_set
    bare = tmp_path / "b.parquet"
    write_table(pa.table({"id": pa.array(["x", "y"]), "row": pa.array([1, 2])}), bare)
    columns = _columns(bare)
    assert not columns["id"].has_dictionary_page  # plain text is not dictionary-encoded
    assert "DELTA_BINARY_PACKED" in columns["row"].encodings


def test_purge_boundaries_results_expire_at_their_time_orphans_only_after_a_day(
    tmp_path: Path,
) -> None:
    storage = Storage(tmp_path)
    now = 2_000_000_000.0
    due = storage.job(A)
    write_json(due.final, {"state": "succeeded", "finished_at": 1.0, "expires_at": now})
    orphan = _job(storage, B, None, False)
    os.utime(orphan, (now - ORPHAN_SECONDS, now - ORPHAN_SECONDS))
    assert storage.purge_expired(now) == [A]  # expired at its time; the orphan is a day old
    assert storage.purge_expired(now + 0.5) == [B]  # older than a day


def test_a_key_file_that_cannot_be_read_does_not_stop_the_purge(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    paths = storage.job(A)
    write_json(paths.manifest, job_manifest(A, idempotency=DIGEST).model_dump())
    paths.write_final("succeeded", 0)
    storage.key_file(DIGEST).mkdir()  # reading it fails (IsADirectoryError)
    assert storage.purge_expired(time.time() + 1) == [A]
    assert not paths.dir.exists()


def test_a_result_file_is_synced_to_disk_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(storage_module.os, "fsync", fsync)
    write_result(tmp_path / "a.parquet", _result(2), ChunkSummary(2, 0), fsync=False)
    assert synced == []
    write_result(tmp_path / "b.parquet", _result(2), ChunkSummary(2, 0), fsync=True)
    assert len(synced) == 1
    assert Path(synced[0]).name.startswith(".b.parquet.")  # the file, before its rename
