"""The decision record against a real PostgreSQL (``initdb`` + ``pg_ctl``): round trip,
idempotent keys, an outage mid-load (spool, replay), a full spool (counted, logged),
retention, the export CLI, and a table (and spool) from before the baseline column."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from loguru import logger
from prometheus_client import CollectorRegistry
from psycopg import sql

from services.core.decisions.metrics import DecisionMetrics
from services.core.decisions.partitions import create_partition_sql, partition_name
from services.core.decisions.record import (
    COLUMNS,
    BaselineAnswer,
    Decision,
    InputsMode,
    ModelIdentity,
    batch_decision_id,
    inputs_digest,
    online_decision_id,
    row_to_json,
    to_row,
)
from services.core.decisions.settings import DecisionSettings
from services.core.decisions.store import DecisionStore
from services.core.decisions.writer import DecisionWriter
from tests.support.decision_tables import FIRST_SCHEMA
from tests.support.postgres import PostgresServer
from tests.support.processes import coverage_env, free_port
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration

MODEL = ModelIdentity("credit-default", "3", "stable")
BASELINE = BaselineAnswer("2", 0.125, 0, "low")
BASELINE_DOC = {"version": "2", "probability": 0.125, "prediction": 0, "band": "low"}
REPO = Path(__file__).resolve().parents[3]


def make(i: int, request_id: str | None = "r", at: datetime | None = None, **kw: Any) -> Decision:
    at = at or datetime.now(UTC)
    fields: dict[str, Any] = {
        "decision_id": online_decision_id(request_id or "-", i),
        "decided_at": at,
        "day": at.date(),
        "model": MODEL,
        "inputs": {"balance": 100.0 + i, "student": "No"},
        "probability": 0.25,
        "prediction": 0,
        "risk_band": "low",
        "threshold": 0.5,
        "caller": "abcdef012345",
        "request_id": request_id,
        "item": i,
    }
    fields.update(kw)
    return Decision(**fields)


def settings(pg: PostgresServer, tmp_path: Path, **kw: Any) -> DecisionSettings:
    options: dict[str, Any] = {
        "dsn": pg.dsn,
        "spool_dir": tmp_path / "spool",
        "flush_seconds": 0.05,
        "retry_seconds": 0.2,
        "connect_timeout_seconds": 1,
    }
    options.update(kw)
    return DecisionSettings(**options)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    got = registry.get_sample_value(name, labels)
    return 0.0 if got is None else got


@pytest.fixture
def store(postgres: PostgresServer) -> Iterator[DecisionStore]:
    s = DecisionStore(postgres.dsn)
    yield s
    s.close()


def test_round_trip_keeps_every_field(
    postgres: PostgresServer, tmp_path: Path, registry: CollectorRegistry
) -> None:
    reasons = [{"feature": "balance", "value": 101.0, "contribution": 0.7, "statement": "High"}]
    writer = DecisionWriter(settings(postgres, tmp_path), DecisionMetrics(registry)).start()
    writer.submit([make(0, "req-a", reasons=reasons), make(1, "req-a", baseline=BASELINE)])
    writer.submit([make(0, "req-b")])
    assert writer.flush()
    writer.close()
    found = DecisionStore(postgres.dsn).find("req-a")
    assert [r["item"] for r in found] == [0, 1]
    first = found[0]
    assert first["inputs"] == {"balance": 100.0, "student": "No"}
    assert first["inputs_hash"] is None
    assert (first["model_name"], first["model_version"], first["track"]) == (
        "credit-default",
        "3",
        "stable",
    )
    assert first["reasons"] == reasons
    assert found[1]["reasons"] == []
    assert first["baseline"] is None
    assert found[1]["baseline"] == BASELINE_DOC
    assert (first["probability"], first["prediction"], first["risk_band"]) == (0.25, 0, "low")
    assert first["caller"] == "abcdef012345"
    assert value(registry, "decisions_recorded_total") == 3


def test_hash_setting_stores_no_inputs(postgres: PostgresServer, tmp_path: Path) -> None:
    config = settings(postgres, tmp_path, inputs="hash", hash_salt="pepper")
    writer = DecisionWriter(config, DecisionMetrics(CollectorRegistry())).start()
    decision = make(0, "req-h")
    writer.submit([decision])
    writer.close()
    (row,) = DecisionStore(postgres.dsn).find("req-h")
    assert row["inputs"] is None
    assert row["inputs_hash"] == inputs_digest(decision.inputs, "pepper")


def test_the_same_key_is_stored_once(store: DecisionStore) -> None:
    day = date(2026, 5, 4)
    rows = [
        to_row(
            make(
                r,
                job_id="j1",
                row_index=r,
                decision_id=batch_decision_id("j1", r),
                day=day,
                request_id=None,
                item=None,
            ),
            InputsMode.VALUES,
        )
        for r in range(1, 101)
    ]
    assert store.insert(rows[:60]) == 60
    assert store.insert(rows) == 40  # a chunk scored again: only the new rows go in
    assert store.count() == 100


def test_outage_mid_load_spools_and_replays_everything(
    postgres: PostgresServer, tmp_path: Path, registry: CollectorRegistry
) -> None:
    writer = DecisionWriter(
        settings(postgres, tmp_path, batch_rows=50), DecisionMetrics(registry)
    ).start()
    stop = threading.Event()
    sent: list[int] = []

    def load() -> None:
        i = 0
        while not stop.is_set():
            writer.submit([make(i, "load")])
            sent.append(i)
            i += 1
            time.sleep(0.001)

    producer = threading.Thread(target=load)
    producer.start()
    try:
        wait_for("decisions recorded", lambda: value(registry, "decisions_recorded_total") > 0, 20)
        postgres.stop()  # outage while decisions flow
        wait_for(
            "decisions spooled during the outage",
            lambda: value(registry, "decisions_spooled_total") > 0 and writer.spool.files(),
            30,
        )
        postgres.start()
        recorded = value(registry, "decisions_recorded_total")
        wait_for(  # the load goes on after the outage, into PostgreSQL again
            "decisions recorded after the outage",
            lambda: value(registry, "decisions_recorded_total") > recorded,
            30,
        )
    finally:
        stop.set()
        producer.join()
    assert writer.flush(timeout=20)
    wait_for("the spool to be replayed", lambda: not writer.spool.files(), 20)
    writer.close()
    assert writer.spool.files() == []
    assert writer.spool.size() == 0
    assert value(registry, "decisions_replayed_total") == value(registry, "decisions_spooled_total")
    stored = {r["item"] for r in DecisionStore(postgres.dsn).find("load")}
    assert stored == set(sent)
    assert len(DecisionStore(postgres.dsn).find("load")) == len(sent)  # nothing twice
    assert value(registry, "decisions_lost_total", reason="spool_full") == 0


def test_full_spool_is_counted_and_logged(
    postgres: PostgresServer, tmp_path: Path, registry: CollectorRegistry
) -> None:
    messages: list[str] = []
    sink = logger.add(messages.append, level="ERROR", format="{message}")
    postgres.stop()
    config = settings(postgres, tmp_path, spool_max_bytes=4096, batch_rows=10)
    writer = DecisionWriter(config, DecisionMetrics(registry)).start()
    for i in range(200):
        writer.submit([make(i, "full")])
    assert writer.flush(timeout=30)
    writer.close()
    logger.remove(sink)
    spooled = value(registry, "decisions_spooled_total")
    lost = value(registry, "decisions_lost_total", reason="spool_full")
    assert spooled > 0
    assert lost > 0
    assert spooled + lost == 200  # every decision is accounted for
    assert writer.spool.size() <= 4096
    assert any("spool full" in m and "decisions not kept" in m for m in messages)


def test_retention_drops_old_day_partitions(store: DecisionStore) -> None:
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=n) for n in (0, 1, 5, 40)]
    rows = [
        to_row(make(0, f"d{n}", day=d, decision_id=f"k{n}"), InputsMode.VALUES)
        for n, d in enumerate(days)
    ]
    store.insert(rows)
    assert len(store.partitions()) == 4
    dropped = store.drop_expired(retention_days=3, today=today)
    assert dropped == [f"decisions_{d:%Y%m%d}" for d in sorted(days[2:])]
    assert store.partitions() == sorted(f"decisions_{d:%Y%m%d}" for d in days[:2])
    assert store.count() == 2
    assert store.insert([to_row(make(0, "again"), InputsMode.VALUES)]) == 1  # still writable


def decisions_cli(dsn: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m services.core.decisions ARGS`` in a minimal environment (``DECISIONS_DSN``
    only when given), measured by `make coverage` too."""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)} | coverage_env()
    if dsn is not None:
        env["DECISIONS_DSN"] = dsn
    return subprocess.run(
        [sys.executable, "-m", "services.core.decisions", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=120,
    )


def test_export_cli_writes_the_range(
    store: DecisionStore, postgres: PostgresServer, tmp_path: Path
) -> None:
    base = datetime(2026, 2, 10, 12, tzinfo=UTC)
    rows = [
        to_row(
            make(
                i,
                "exp",
                at=base + timedelta(days=i),
                decision_id=f"e{i}",
                model=ModelIdentity("m", "7" if i % 2 else "8"),
                baseline=BASELINE if i == 1 else None,
            ),
            InputsMode.VALUES,
        )
        for i in range(5)
    ]  # 10, 11, 12, 13, 14 February
    store.insert(rows)

    def export(*args: str) -> subprocess.CompletedProcess[str]:
        return decisions_cli(postgres.dsn, "export", *args)

    out = tmp_path / "d.parquet"
    done = export(
        "--since", "2026-02-11", "--until", "2026-02-13", "--format", "parquet", "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    frame = pd.read_parquet(out)
    assert list(frame["item"]) == [1, 2, 3]  # the 11th to the 13th, whole days
    assert frame["inputs"].iloc[0] == '{"balance":101.0,"student":"No"}'
    assert json.loads(frame["baseline"].iloc[0]) == BASELINE_DOC
    assert frame["baseline"].iloc[1:].isna().all()
    csv = tmp_path / "d.csv"
    done = export(
        "--since",
        "2026-02-01",
        "--until",
        "2026-03-01",
        "--model-version",
        "7",
        "--format",
        "csv",
        "--out",
        str(csv),
    )
    assert done.returncode == 0, done.stderr
    exported = pd.read_csv(csv)
    assert list(exported["item"]) == [1, 3]
    assert json.loads(exported["baseline"].iloc[0]) == BASELINE_DOC
    bad = export("--since", "yesterday", "--until", "2026-03-01", "--out", str(csv))
    assert bad.returncode == 2
    assert "bad date" in bad.stderr


def test_retention_cli_drops_the_expired_days_and_reports_them(
    store: DecisionStore, postgres: PostgresServer
) -> None:
    today = datetime.now(UTC).date()
    old, kept = today - timedelta(days=10), today - timedelta(days=2)
    store.insert(
        [
            to_row(make(0, f"ret{n}", day=d, decision_id=f"ret{n}"), InputsMode.VALUES)
            for n, d in enumerate((old, kept))
        ]
    )
    done = decisions_cli(postgres.dsn, "retention", "--days", "5")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"dropped 1 partitions: decisions_{old:%Y%m%d}"
    assert store.partitions() == [f"decisions_{kept:%Y%m%d}"]
    again = decisions_cli(postgres.dsn, "retention", "--days", "5")
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "dropped 0 partitions: -"


def test_cli_without_a_database_says_so(postgres: PostgresServer, tmp_path: Path) -> None:
    out = tmp_path / "never.csv"
    unset = decisions_cli(None, "retention")
    assert unset.returncode == 2
    assert "DECISIONS_DSN is not set" in unset.stderr
    nothing_listens = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    range_ = ("--since", "2026-01-01", "--until", "2026-01-02")
    down = decisions_cli(nothing_listens, "export", *range_, "--out", str(out))
    assert down.returncode == 1
    assert "decision record unreachable" in down.stderr
    assert not out.exists()


def test_look_up_before_any_write_finds_nothing(postgres: PostgresServer) -> None:
    store = DecisionStore(postgres.dsn)
    assert store.find("never") == []  # no table yet: nothing recorded, not an error
    assert store.partitions() == []


def columns_of(conn: psycopg.Connection[Any], table: str) -> set[str]:
    query = "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
    return {r[0] for r in conn.execute(query, (table,)).fetchall()}


def test_a_table_and_spool_from_before_the_baseline_column(
    postgres: PostgresServer, tmp_path: Path, registry: CollectorRegistry
) -> None:
    """A table created by the previous release (no ``baseline``) with a day partition and a
    row: a look-up still works (baseline null), the first write adds the column (the
    partition inherits it), and a spool file written by the previous release (rows one
    column shorter) replays with baseline null."""
    old_schema = FIRST_SCHEMA.replace("    baseline jsonb,\n", "")
    assert "baseline" not in old_schema
    today = datetime.now(UTC).date()
    old_columns = COLUMNS[:-1]
    assert COLUMNS[-1] == "baseline"
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute(old_schema.format(table="decisions"))  # type: ignore[call-overload]
        conn.execute(create_partition_sql("decisions", today))  # type: ignore[call-overload]
        insert = sql.SQL("INSERT INTO decisions ({}) VALUES ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, old_columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(old_columns)),
        )
        conn.execute(insert, to_row(make(0, "before"), InputsMode.VALUES)[:-1])
        assert "baseline" not in columns_of(conn, partition_name(today))
    (before,) = DecisionStore(postgres.dsn).find("before")  # not migrated yet: null
    assert before["baseline"] is None
    assert before["inputs"] == {"balance": 100.0, "student": "No"}

    spool = tmp_path / "spool"
    spool.mkdir()
    old_row = row_to_json(to_row(make(0, "spooled"), InputsMode.VALUES))[:-1]
    (spool / "00000000000000000001-1-000001.jsonl").write_text(json.dumps(old_row) + "\n")
    writer = DecisionWriter(settings(postgres, tmp_path), DecisionMetrics(registry)).start()
    writer.submit([make(0, "after", baseline=BASELINE), make(1, "after")])
    assert writer.flush()
    wait_for("the old spool file to be replayed", lambda: not writer.spool.files(), 20)
    writer.close()
    assert value(registry, "decisions_replayed_total") == 1

    store = DecisionStore(postgres.dsn)
    assert [r["baseline"] for r in store.find("after")] == [BASELINE_DOC, None]
    assert [r["baseline"] for r in store.find("before")] == [None]
    (spooled,) = store.find("spooled")
    assert spooled["baseline"] is None
    assert spooled["decision_id"] == online_decision_id("spooled", 0)
    with psycopg.connect(postgres.dsn) as conn:
        assert "baseline" in columns_of(conn, "decisions")
        assert "baseline" in columns_of(conn, partition_name(today))  # inherited
    store.ensure_schema()  # again, on a migrated table: nothing to add
    assert store.count() == 4
    store.close()


def document_types(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """The SQL types of the decision table's JSON document columns."""
    return dict(
        conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'decisions'::regclass AND attname IN "
            "('inputs', 'reasons', 'baseline')"
        ).fetchall()
    )


def test_a_first_layout_table_works_and_the_documented_migration_applies(
    postgres: PostgresServer, tmp_path: Path, registry: CollectorRegistry
) -> None:
    """A table of the first layout (jsonb, plain b-tree indexes) is written and read as it
    is (the writer changes nothing in it); the migration in docs/decisions.md turns it into
    the current layout, rows kept, and the look-ups use the new partial indexes."""
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        conn.execute(FIRST_SCHEMA.format(table="decisions"))  # type: ignore[call-overload]
    writer = DecisionWriter(settings(postgres, tmp_path), DecisionMetrics(registry)).start()
    writer.submit([make(0, "old-a", baseline=BASELINE), make(1, "old-a")])
    assert writer.flush()
    writer.close()
    store = DecisionStore(postgres.dsn)
    assert [r["baseline"] for r in store.find("old-a")] == [BASELINE_DOC, None]
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        kinds = document_types(conn)
        assert set(kinds.values()) == {"jsonb"}  # left alone
        doc = Path(__file__).parents[3] / "docs" / "decisions.md"
        migration = doc.read_text().split("```sql\n", 1)[1].split("```", 1)[0]
        for statement in migration.split(";"):
            if statement.strip() and not statement.strip().startswith("--"):
                conn.execute(statement)  # type: ignore[call-overload]
    store.ensure_schema()  # a writer's start: creates the current indexes
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        kinds = document_types(conn)
        assert set(kinds.values()) == {"json"}
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT * FROM decisions WHERE request_id = 'old-a'"
            ).fetchall()
        )
        assert "Index" in plan, plan
        assert "request_id_idx" in plan, plan  # the partition's index
        indexes = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'decisions'"
            ).fetchall()
        }
    assert "WHERE (request_id IS NOT NULL)" in indexes["decisions_request_id"]
    assert "USING brin" in indexes["decisions_decided_at"]
    assert "WHERE (job_id IS NOT NULL)" in indexes["decisions_job"]
    with psycopg.connect(postgres.dsn) as conn:
        collations = conn.execute(
            "SELECT a.attname, c.collname FROM pg_attribute a JOIN pg_collation c "
            "ON c.oid = a.attcollation WHERE a.attrelid = 'decisions'::regclass "
            "AND a.attname IN ('decision_id', 'request_id', 'job_id')"
        ).fetchall()
    assert {name for _, name in collations} == {"C"}, collations
    assert [r["baseline"] for r in store.find("old-a")] == [BASELINE_DOC, None]
    assert store.count() == 2
