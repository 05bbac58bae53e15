"""Where the batch decision record's time goes, per 200,000-row chunk (issue 17).

Not a test, not a benchmark table: a breakdown. One chunk of synthetic Default rows is
scored with k = 4 reasons, turned into a ``DecisionBlock`` and written to a real
PostgreSQL (``tests.support.postgres``) step by step, each step timed on its own:

- Python: ``chunk_block`` (JSON texts by Arrow kernels), ``block.csv`` (the COPY payload);
- PostgreSQL: ``COPY`` into the session temp table, ``INSERT … SELECT … ON CONFLICT``
  into the day partition (PK + 3 indexes, jsonb), ``COMMIT``;
- variants of the server side on the same payload: COPY straight into a day partition of
  the first releases' layout and of the current one, and steps in between.

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


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def variant_table(conn: Any, name: str, schema: str) -> None:
    conn.execute(schema.format(table=name))
    day = datetime.now(UTC).date()
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {name}_p PARTITION OF {name} FOR VALUES FROM "
        f"('{day}') TO ('{day + timedelta(days=1)}')"
    )


def layouts() -> dict[str, str]:
    """The table layouts compared: the first releases', the current one, and steps."""
    from services.core.decisions.store import SCHEMA
    from tests.support.decision_tables import FIRST_SCHEMA

    def bare(schema: str) -> str:
        return schema.split("CREATE INDEX")[0]

    return {
        "first layout (jsonb, 3 b-tree)": FIRST_SCHEMA,
        "first, json": FIRST_SCHEMA.replace("jsonb", "json"),
        "first, no secondary index": bare(FIRST_SCHEMA),
        "current (json, partial, BRIN, C)": SCHEMA,
        "current without COLLATE C": SCHEMA.replace(' COLLATE "C"', ""),
        "current, no secondary index": bare(SCHEMA),
    }


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
    from services.batch.worker.scoring import score_frame
    from services.core.decisions.metrics import DecisionMetrics
    from services.core.decisions.record import COLUMNS, BatchHeader, InputsMode, ModelIdentity
    from services.core.decisions.settings import DecisionSettings
    from services.core.decisions.store import DecisionStore
    from services.core.decisions.writer import DecisionWriter

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
        variants = {f"v{i}": (label, schema) for i, (label, schema) in enumerate(layouts().items())}
        for name, (_, schema) in variants.items():
            variant_table(conn, name, schema)
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
                    BatchHeader(ModelIdentity("m", "1", "batch"), 0.5, j, time.time(), "caller"),
                    f,
                    r,
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
            seconds, _ = timed(lambda f=frame, r=result, j=record: record_chunk(model, j, f, r))
            note("record_chunk (writer thread, end to end)", seconds)
            # the first releases' path, step by step, into a first-layout table (v0)
            staged = payload.replace(b"job:job", b"job:jbb")  # keys v0's variant lacks
            with conn.cursor() as cur:
                cur.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS t_in (LIKE v0 INCLUDING DEFAULTS) "
                    "ON COMMIT DELETE ROWS"
                )
                conn.commit()
            for what in ("new rows", "all stored: key probes only"):
                with conn.cursor() as cur:
                    started = time.perf_counter()
                    with cur.copy(f"COPY t_in ({columns}) FROM STDIN (FORMAT csv)") as copy:
                        copy.write(staged)
                    note(
                        "first path: COPY csv into the temp table (jsonb)",
                        time.perf_counter() - started,
                    )
                    started = time.perf_counter()
                    cur.execute(
                        f"INSERT INTO v0 ({columns}) SELECT {columns} FROM t_in "
                        "ON CONFLICT DO NOTHING"
                    )
                    note(
                        f"first path: INSERT..SELECT ON CONFLICT ({what})",
                        time.perf_counter() - started,
                    )
                    started = time.perf_counter()
                    conn.commit()
                    note("first path: COMMIT", time.perf_counter() - started)
            # COPY straight into a partition, per variant
            for name, (label, _) in variants.items():
                with conn.cursor() as cur:
                    started = time.perf_counter()
                    with cur.copy(f"COPY {name}_p ({columns}) FROM STDIN (FORMAT csv)") as copy:
                        copy.write(payload)
                    conn.commit()
                    note(
                        f"pg: COPY csv straight into partition, {label}",
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
