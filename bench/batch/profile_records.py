"""Where the batch decision record's time goes, per 200,000-row chunk (issue 17).

Not a test, not a benchmark table: a breakdown. One chunk of synthetic Default rows is
scored with k = 4 reasons, turned into a ``DecisionBlock`` and written to a real
PostgreSQL (``tests.support.postgres``) step by step, each step timed on its own:

- Python: ``chunk_block`` (JSON texts by Arrow kernels), ``block.csv`` (the COPY payload);
- PostgreSQL: ``COPY`` into the session temp table, ``INSERT … SELECT … ON CONFLICT``
  into the day partition (PK + 3 indexes, jsonb), ``COMMIT``;
- variants of the server side on the same payload: COPY straight into the partition
  (jsonb / json columns), without the secondary indexes, and the current store's path.

    python bench/batch/profile_records.py [--rows 200000] [--chunks 3] [--fsync]

``--fsync`` runs the server with ``fsync=on`` (the tests' server runs with ``fsync=off``).
Prints a markdown table (median seconds per chunk and rows/s per step).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.batch.inputs import default_applicants, one_worker_model  # noqa: E402
from tests.support.postgres import PostgresServer  # noqa: E402

INDEXES = """
CREATE INDEX IF NOT EXISTS {t}_request_id ON {t} (request_id);
CREATE INDEX IF NOT EXISTS {t}_decided_at ON {t} (decided_at);
CREATE INDEX IF NOT EXISTS {t}_job ON {t} (job_id, row_index);
"""


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def variant_table(conn: Any, name: str, json_type: str, indexes: bool) -> None:
    from services.core.decisions.store import SCHEMA

    schema = SCHEMA.replace("jsonb", json_type)
    if not indexes:
        schema = schema.split("CREATE INDEX")[0]
    conn.execute(schema.format(table=name))
    day = datetime.now(UTC).date()
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {name}_p PARTITION OF {name} FOR VALUES FROM "
        f"('{day}') TO ('{day + timedelta(days=1)}')"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--fsync", action="store_true")
    args = parser.parse_args(argv)

    import psycopg

    from prometheus_client import CollectorRegistry

    from services.batch.worker.record_block import chunk_block
    from services.batch.worker.recording import ChunkRecord, record_chunk
    from services.core.decisions.metrics import DecisionMetrics
    from services.core.decisions.settings import DecisionSettings
    from services.core.decisions.writer import DecisionWriter
    from services.batch.worker.scoring import score_frame
    from services.core.decisions.record import COLUMNS, InputsMode
    from services.core.decisions.store import DecisionStore

    steps: dict[str, list[float]] = {}

    def note(step: str, seconds: float) -> None:
        steps.setdefault(step, []).append(seconds)

    server = PostgresServer()
    try:
        server.init().start()
        if args.fsync:
            with psycopg.connect(server.dsn, autocommit=True) as conn:
                conn.execute("ALTER SYSTEM SET fsync = on")
                conn.execute("SELECT pg_reload_conf()")
        with tempfile.TemporaryDirectory() as tmp:
            model = one_worker_model(Path(tmp))
            frames = [default_applicants(args.rows, seed=s) for s in range(args.chunks)]
        conn = psycopg.connect(server.dsn)
        for name, kind, idx in (("v_jsonb", "jsonb", True), ("v_json", "json", True)):
            variant_table(conn, name, kind, idx)
        variant_table(conn, "v_jsonb_noidx", "jsonb", False)
        variant_table(conn, "v_json_noidx", "json", False)
        conn.commit()
        store = DecisionStore(server.dsn)
        settings = DecisionSettings(dsn=server.dsn, spool_dir=Path(tempfile.mkdtemp()))
        writer = DecisionWriter(settings, DecisionMetrics(CollectorRegistry())).start()
        columns = ", ".join(COLUMNS)
        for c, frame in enumerate(frames):
            frame["student"] = frame["student"].astype("category")
            first = c * args.rows + 1
            seconds, result = timed(
                lambda f=frame, first=first: score_frame(model, f, first, None, None, 4)
            )
            note("score (reasons k=4, not record)", seconds)
            seconds, block = timed(
                lambda f=frame, r=result, j=f"job{c}": chunk_block(
                    "m", "1", "batch", 0.5, j, time.time(), "caller", f, r
                )
            )
            note("python: chunk_block", seconds)
            seconds, payload = timed(lambda b=block: b.csv(InputsMode.VALUES))
            note("python: block.csv", seconds)
            seconds, _ = timed(lambda b=block: b.table(InputsMode.VALUES))
            note("python: block.table (part of csv)", seconds)
            # the store as it is, end to end
            seconds, inserted = timed(lambda p=payload, b=block: store.insert_csv(p, [b.day]))
            assert inserted == args.rows
            note("store.insert_csv (end to end, one 200k block)", seconds)
            # the worker's record_chunk through the writer thread (blocks, pipelined)
            record = ChunkRecord(writer, f"rec{c}", time.time(), "caller")
            seconds, _ = timed(lambda f=frame, r=result: record_chunk(model, record, f, r))
            note("record_chunk (writer thread, end to end)", seconds)
            # the same store path, step by step (into its own table: same indexes)
            with conn.cursor() as cur:
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS t_in (LIKE decisions INCLUDING DEFAULTS) "
                    "ON COMMIT DELETE ROWS"
                )
                conn.commit()
            with conn.cursor() as cur:
                started = time.perf_counter()
                with cur.copy(f"COPY t_in ({columns}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(payload)
                note("pg: COPY csv into temp table (jsonb parse)", time.perf_counter() - started)
                started = time.perf_counter()
                cur.execute(
                    f"INSERT INTO decisions ({columns}) SELECT {columns} FROM t_in "
                    "ON CONFLICT DO NOTHING"
                )
                note(
                    "pg: INSERT..SELECT ON CONFLICT (all dup: key probe only)",
                    time.perf_counter() - started,
                )
                assert cur.rowcount == 0
                started = time.perf_counter()
                conn.commit()
                note("pg: COMMIT", time.perf_counter() - started)
            # a fresh job id: the INSERT really inserts (the store's path, split)
            with conn.cursor() as cur:
                with cur.copy(f"COPY t_in ({columns}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(payload.replace(b"job:job", b"job:jbb"))
                started = time.perf_counter()
                cur.execute(
                    f"INSERT INTO decisions ({columns}) SELECT {columns} FROM t_in "
                    "ON CONFLICT DO NOTHING"
                )
                note(
                    "pg: INSERT..SELECT ON CONFLICT (new rows, PK+3 idx)",
                    time.perf_counter() - started,
                )
                conn.commit()
            # COPY straight into a partition, per variant
            for name in ("v_jsonb", "v_json", "v_jsonb_noidx", "v_json_noidx"):
                with conn.cursor() as cur:
                    started = time.perf_counter()
                    with cur.copy(f"COPY {name}_p ({columns}) FROM STDIN (FORMAT csv)") as copy:
                        copy.write(payload)
                    conn.commit()
                    note(
                        f"pg: COPY csv straight into partition, {name}",
                        time.perf_counter() - started,
                    )
        conn.close()
        store.close()
        writer.close()
    finally:
        server.cleanup()
    print(
        f"| step ({args.rows:,} rows per chunk, fsync={'on' if args.fsync else 'off'}) "
        "| median s | rows/s |"
    )
    print("|---|---|---|")
    for step, values in steps.items():
        med = statistics.median(values)
        print(f"| {step} | {med:.3f} | {args.rows / med:,.0f} |")
    print(f"payload bytes per row: {len(payload) / args.rows:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
