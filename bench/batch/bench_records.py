"""Batch with reason codes and the decision record on vs both off: rows/s of the worker's
chunk function (``run_chunk``), side by side in one run (issue 17's batch ratio).

Not a test. In-process, with the workers' own code: a synthetic Default Parquet file
(100,000-row row groups) is scored chunk by chunk (200,000 rows) by ``run_chunk`` — read,
check, score, (record,) write the result file — in four settings, rounds interleaved:

- ``off``: no reasons, no record (the batch default without a database);
- ``reasons``: ``BATCH_REASONS_TOP_K=4`` (exact TreeSHAP), no record;
- ``reasons + record``: k = 4 and every row's decision recorded in a real PostgreSQL
  (Debian package, ``initdb`` on a free port) through the workers' ``DecisionWriter`` in
  the default layout (``DECISIONS_BATCH_LAYOUT=chunk``: one row per chunk, its decisions
  in one Arrow IPC + zstd document) — each chunk flushed before its result file, as in
  production;
- ``reasons + record (row layout)``, with ``--row-layout``: the same with one PostgreSQL
  row per decision (``DECISIONS_BATCH_LAYOUT=row``).

The booster uses one thread (one worker of the 2-worker deployment); PostgreSQL runs on
the same 2-core machine. Each round's record table starts empty.

    python bench/batch/bench_records.py                    # 10^6 rows, 2 rounds (~8 min)
    python bench/batch/bench_records.py --rows 10000000 --rounds 1

Writes ``bench/results/records_batch.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.batch.inputs import default_applicants, one_worker_model  # noqa: E402
from bench.common import write_results  # noqa: E402
from tests.support.postgres import PostgresServer, postgres_server  # noqa: E402

CHUNK_ROWS = 200_000
ROW_GROUP_ROWS = 100_000
K = 4
SETTINGS = ("off", "reasons", "reasons + record")
ROW_LAYOUT = "reasons + record (row layout)"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--row-layout", action="store_true", help="also time the per-row layout (slow)"
    )
    return parser.parse_args(argv)


def write_input(rows: int, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = default_applicants(rows)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, ROW_GROUP_ROWS)


def run_job(model: Any, source: Path, rows: int, out: Path, setting: str, pg: Any) -> float:
    """Seconds for ``run_chunk`` over every chunk of ``source`` in ``setting``."""
    from prometheus_client import CollectorRegistry

    from services.batch.domain import ChunkSpec
    from services.batch.worker.chunk import run_chunk
    from services.batch.worker.recording import ChunkRecord
    from services.core.decisions.metrics import DecisionMetrics
    from services.core.decisions.settings import DecisionSettings
    from services.core.decisions.writer import DecisionWriter

    record: ChunkRecord | None = None
    writer: DecisionWriter | None = None
    if setting.startswith("reasons + record"):
        layout = "row" if setting == ROW_LAYOUT else "chunk"
        settings = DecisionSettings(dsn=pg.dsn, spool_dir=out / "spool", batch_layout=layout)
        writer = DecisionWriter(settings, DecisionMetrics(CollectorRegistry())).start()
        record = ChunkRecord(writer, f"bench-{out.name}", time.time(), "bench0000000")
    k = 0 if setting == "off" else K
    model.reason_groups.clear()  # every setting meets its bin vectors' TreeSHAP cold
    groups_per_chunk = CHUNK_ROWS // ROW_GROUP_ROWS
    started = time.perf_counter()
    for index, offset in enumerate(range(0, rows, CHUNK_ROWS)):
        first = offset // ROW_GROUP_ROWS
        spec = ChunkSpec(
            index,
            str(source),
            offset,
            min(CHUNK_ROWS, rows - offset),
            (first, first + groups_per_chunk),
        )
        run_chunk(model, spec, out / f"part-{index}.parquet", None, record=record, reasons_k=k)
    seconds = time.perf_counter() - started
    if writer is not None:
        writer.close()
    return seconds


def recorded(pg: PostgresServer, formats: dict[str, int]) -> int:
    """Decisions recorded (rows of both layouts), then both tables emptied; the chunks'
    payload formats counted into ``formats`` (format 4: built from the scoring's groups)."""
    import psycopg

    count = 0
    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        if conn.execute("SELECT to_regclass('decision_chunks')").fetchone() != (None,):
            query = "SELECT payload_format, count(*) FROM decision_chunks GROUP BY 1"
            for name, chunks in conn.execute(query).fetchall():
                formats[str(name)] = formats.get(str(name), 0) + int(chunks)
        for table, query in (
            ("decisions", "SELECT count(*) FROM decisions"),
            ("decision_chunks", "SELECT coalesce(sum(row_count), 0) FROM decision_chunks"),
        ):
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone() == (None,):
                continue
            row = conn.execute(query).fetchone()  # type: ignore[arg-type]
            count += int(row[0]) if row else 0
            conn.execute(f"TRUNCATE {table}")  # type: ignore[arg-type]
    return count


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    load_before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    settings = (*SETTINGS, ROW_LAYOUT) if args.row_layout else SETTINGS
    seconds: dict[str, list[float]] = {s: [] for s in settings}
    formats: dict[str, int] = {}  # chunk documents stored, by payload format
    with (
        tempfile.TemporaryDirectory(prefix="bench-records-batch-") as tmp,
        postgres_server() as pg,
    ):
        model = one_worker_model(Path(tmp))
        source = Path(tmp) / "input.parquet"
        write_input(args.rows, source)
        for i in range(args.rounds):
            order = settings if i % 2 == 0 else tuple(reversed(settings))
            for setting in order:
                out = Path(tmp) / f"round-{i}-{setting.replace(' + ', '-')}"
                out.mkdir()
                seconds[setting].append(run_job(model, source, args.rows, out, setting, pg))
                if setting.startswith("reasons + record"):
                    stored = recorded(pg, formats)
                    assert stored == args.rows, f"{stored} decisions recorded of {args.rows}"
                print(f"round {i} {setting}: {seconds[setting][-1]:.2f} s", flush=True)
    rate = {s: args.rows * len(v) / sum(v) for s, v in seconds.items()}
    rows: list[dict[str, Any]] = [
        {
            "setting": s,
            "rows": args.rows,
            "rows_per_s": round(rate[s]),
            "vs_off": f"{rate[s] / rate['off']:.1%}",
            "ratio": round(rate[s] / rate["off"], 4),
            "round_seconds": [round(x, 2) for x in seconds[s]],
        }
        for s in settings
    ]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    notes = (
        f"The batch worker's chunk function (`run_chunk`: read, check, score, record, write) "
        f"over {args.rows:,} synthetic Default rows in {CHUNK_ROWS:,}-row chunks, 1 booster "
        f"thread, {args.rounds} interleaved round(s) per setting. `reasons`: k = {K} reason "
        f"columns (exact TreeSHAP); `reasons + record`: also every row's decision recorded in a "
        f"real PostgreSQL on the same machine (the tests' server: `fsync=off`, WAL still "
        f"written) in the default layout, one row per chunk (`DECISIONS_BATCH_LAYOUT=chunk`: "
        f"the chunk's decisions as one Arrow IPC + zstd document), flushed before each result "
        f"file (all {args.rows:,} counted after every round)"
        + (", and with `--row-layout` one row per decision" if args.row_layout else "")
        + "; chunk documents stored by payload format: "
        + (", ".join(f"`{f}` {n}" for f, n in sorted(formats.items())) or "none")
        + f". Target (issue 17): reasons + "
        f"record ≥ 50 % of off at 10^7 rows. Load average before: {load_before}; after: "
        f"{load}; wall "
        f"{time.time() - started:.0f} s."
    )
    columns = ["setting", "rows", "rows_per_s", "vs_off", "round_seconds"]
    path = write_results("records_batch", rows, columns, notes)
    print(f"wrote {path} and its JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
