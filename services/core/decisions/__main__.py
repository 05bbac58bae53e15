"""``python -m services.core.decisions``: export the decision record, apply retention.

    python -m services.core.decisions export --since 2026-03-01 --until 2026-03-31 \\
        [--model-version 7] --format parquet|csv --out decisions.parquet
    python -m services.core.decisions retention [--days N]

The database is ``DECISIONS_DSN`` (see docs/decisions.md). The export holds every decision
of the range: the per-row table's, then the batch chunks' (``DECISIONS_CHUNK_TABLE``)
decoded row by row, with the same columns. Exit status 0 on success,
2 on bad arguments, 1 if PostgreSQL cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psycopg

from services.core.decisions.export import parse_when, write_export
from services.core.decisions.settings import DecisionSettings
from services.core.decisions.store import DecisionStore


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m services.core.decisions", description=__doc__.split("\n")[0]
    )
    sub = cli.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write decisions of a time range to Parquet or CSV")
    export.add_argument("--since", required=True, help="from this date/time (UTC, inclusive)")
    export.add_argument(
        "--until", required=True, help="to this date (inclusive) or time (exclusive), UTC"
    )
    export.add_argument("--model-version", help="only decisions of this model version")
    export.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    export.add_argument("--out", required=True, type=Path, help="output file")
    retention = sub.add_parser("retention", help="drop day partitions older than the setting")
    retention.add_argument("--days", type=int, help="default: DECISIONS_RETENTION_DAYS")
    return cli


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = DecisionSettings()
    if not settings.enabled:
        print("DECISIONS_DSN is not set: no decision record to read", file=sys.stderr)
        return 2
    store = DecisionStore(
        settings.dsn.get_secret_value(),
        settings.table,
        settings.connect_timeout_seconds,
        settings.chunk_table,
    )
    try:
        if args.command == "export":
            try:
                since, until = parse_when(args.since), parse_when(args.until, end=True)
            except ValueError as exc:
                print(f"bad date: {exc}", file=sys.stderr)
                return 2
            rows = store.export(since, until, args.model_version)
            n = write_export(rows, args.out, args.format)
            print(f"{n} decisions written to {args.out}")
        else:
            days = settings.retention_days if args.days is None else args.days
            dropped = store.drop_expired(days)
            print(f"dropped {len(dropped)} partitions: {' '.join(dropped) or '-'}")
    except psycopg.Error as exc:
        print(f"decision record unreachable: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
