"""The decision table in PostgreSQL (psycopg 3): schema, idempotent batched inserts,
day partitions, retention, look-ups and export.

Every write is idempotent on the key ``(day, decision_id)``: a row already stored (a batch
chunk scored again after its worker died, a spool file replayed after a write whose commit
was not acknowledged) is skipped, never duplicated. Two paths, both in one transaction:

- fast (a batch block, CSV): ``COPY`` straight into the partitioned table, in a savepoint.
  The primary key checks every row; if any key is already stored, the COPY fails with a
  unique violation (at the first such row: a chunk is written in row order), the savepoint
  is rolled back and the slow path runs instead. A new chunk, by far the common case,
  costs one COPY and no staging.
- slow (per-decision rows, spool replay, a block some of whose keys are stored): ``COPY``
  into a session temporary table, then ``INSERT … SELECT … ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from services.core.decisions.chunk import CHUNK_COLUMNS, ChunkDocument
from services.core.decisions.partitions import create_partition_sql, expired
from services.core.decisions.record import COLUMNS, Row

# The layout of a table created by this version. Write-mostly: the JSON documents are
# ``json`` (validated, stored as text: no jsonb conversion per row on the write path; the
# record is read back whole, never queried inside); the request-id index holds online
# rows only (a batch row has none), the job index batch rows only; ``decided_at``
# (exports by time range) has a BRIN index: rows arrive in time order within a day
# partition, so a summary per block of pages finds a range at almost no write cost. The
# key columns compare bytewise (``COLLATE "C"``: ids, not words; index inserts skip the
# locale's strcoll; equality look-ups are the same).
# A table created by an earlier version keeps its ``jsonb`` columns and b-tree indexes
# (same names, so ``CREATE INDEX IF NOT EXISTS`` leaves them alone): it works unchanged,
# only its writes stay slower; ``docs/decisions.md`` has the manual migration.
SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    day date NOT NULL,
    decision_id text COLLATE "C" NOT NULL,
    decided_at timestamptz NOT NULL,
    request_id text COLLATE "C",
    item integer,
    job_id text COLLATE "C",
    row_index bigint,
    caller text NOT NULL DEFAULT '',
    model_name text NOT NULL,
    model_version text NOT NULL,
    track text NOT NULL,
    inputs json,
    inputs_hash text,
    probability double precision NOT NULL,
    prediction smallint NOT NULL,
    risk_band text NOT NULL,
    threshold double precision NOT NULL,
    reasons json NOT NULL DEFAULT '[]',
    baseline json,
    PRIMARY KEY (day, decision_id)
) PARTITION BY RANGE (day);
CREATE INDEX IF NOT EXISTS {table}_request_id ON {table} (request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS {table}_decided_at ON {table} USING brin (decided_at);
CREATE INDEX IF NOT EXISTS {table}_job ON {table} (job_id, row_index)
    WHERE job_id IS NOT NULL;
"""
# Columns added after the table's first release, with their types: ``ensure_schema`` adds
# the missing ones to an existing table (its day partitions inherit them). Only when
# missing: ALTER TABLE takes an ACCESS EXCLUSIVE lock even when the column exists, which
# would queue every write behind a long export.
ADDED_COLUMNS = {"baseline": "jsonb"}
# Batch decisions recorded per chunk (``DECISIONS_BATCH_LAYOUT=chunk``): one row per scored
# chunk, its decisions in ``payload`` (``chunk_codec``: Arrow IPC, zstd). Keyed by the job's
# day, the job and the chunk's first row: a re-scored chunk inserts nothing twice. The job
# index serves ``find_row``, BRIN on ``decided_at`` the export by time range.
CHUNK_SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    day date NOT NULL,
    job_id text COLLATE "C" NOT NULL,
    first_row bigint NOT NULL,
    last_row bigint NOT NULL,
    chunk_index integer NOT NULL,
    row_count integer NOT NULL,
    decided_at timestamptz NOT NULL,
    caller text NOT NULL DEFAULT '',
    model_name text NOT NULL,
    model_version text NOT NULL,
    track text NOT NULL,
    threshold double precision NOT NULL,
    inputs_mode text NOT NULL,
    payload_format text NOT NULL,
    payload_sha256 text NOT NULL,
    payload bytea NOT NULL,
    PRIMARY KEY (day, job_id, first_row)
) PARTITION BY RANGE (day);
CREATE INDEX IF NOT EXISTS {table}_job ON {table} (job_id, first_row);
CREATE INDEX IF NOT EXISTS {table}_decided_at ON {table} USING brin (decided_at);
"""
# ``payload`` is zstd-compressed already: stored out of line as it is (``EXTERNAL``), never
# through TOAST's pglz, which reads most of a 3 MB document before giving up (measured:
# a 200,000-row chunk's insert 4x slower). Existing tables are altered once (partitions too).
PAYLOAD_STORAGE = (
    "SELECT attstorage FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = 'payload'"
)
TABLE_COLUMNS = (
    "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
    "AND attnum > 0 AND NOT attisdropped"
)
LOCK = "SELECT pg_advisory_xact_lock(hashtext('creditrisk-decisions:' || %s))"


class DecisionStore:
    """One connection (opened on first use, reopened after an error); not thread-safe:
    the writer thread owns one, each look-up opens its own."""

    def __init__(
        self,
        dsn: str,
        table: str = "decisions",
        connect_timeout: int = 3,
        chunk_table: str = "decision_chunks",
    ) -> None:
        self.dsn, self.table, self.connect_timeout = dsn, table, connect_timeout
        self.chunk_table = chunk_table
        self._conn: psycopg.Connection[Any] | None = None
        self._days: set[date] = set()
        self._chunk_days: set[date] = set()
        self._schema_ready = False
        self._chunk_schema_ready = False

    def connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.dsn, connect_timeout=self.connect_timeout)
            self._days.clear()  # temp table and partition cache belong to the old session
            self._chunk_days.clear()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _run(self, work: Any) -> Any:
        """``work(conn)`` in a transaction; the connection is dropped on any error."""
        try:
            conn = self.connection()
            with conn.transaction():
                return work(conn)
        except Exception:
            self.close()
            raise

    def ensure_schema(self) -> None:
        def create(conn: psycopg.Connection[Any]) -> None:
            conn.execute(LOCK, (self.table,))
            conn.execute(SCHEMA.format(table=self.table))  # type: ignore[call-overload]
            have = {r[0] for r in conn.execute(TABLE_COLUMNS, (self.table,)).fetchall()}
            for name, kind in ADDED_COLUMNS.items():
                if name not in have:
                    conn.execute(
                        sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                            sql.Identifier(self.table), sql.Identifier(name), sql.SQL(kind)
                        )
                    )

        self._run(create)
        self._schema_ready = True

    def _ensure_days(self, conn: psycopg.Connection[Any], days: Iterable[date]) -> None:
        missing = sorted(set(days) - self._days)
        if not missing:
            return
        conn.execute(LOCK, (self.table,))
        for day in missing:
            conn.execute(create_partition_sql(self.table, day))  # type: ignore[call-overload]
        self._days.update(missing)

    def insert(self, rows: Sequence[Row]) -> int:
        """Insert ``rows`` (``COLUMNS`` order); the number actually inserted (duplicates
        of stored keys are skipped)."""
        if not rows:
            return 0

        def load(copy: Any) -> None:
            for row in rows:
                copy.write_row(row)

        return self._insert({row[0] for row in rows}, sql.SQL(""), load)

    def insert_csv(self, data: bytes, days: Iterable[date]) -> int:
        """Insert rows given as CSV (``COLUMNS`` order, no header, SQL NULL as an unquoted
        empty field) falling on ``days``; the number actually inserted. Straight COPY when
        none of the keys is stored yet, else the staging path (see the module doc)."""
        if not data:
            return 0
        options = sql.SQL(" (FORMAT csv)")
        return self._insert(set(days), options, lambda copy: copy.write(data), direct=True)

    def ensure_chunk_schema(self) -> None:
        def create(conn: psycopg.Connection[Any]) -> None:
            conn.execute(LOCK, (self.chunk_table,))
            conn.execute(CHUNK_SCHEMA.format(table=self.chunk_table))  # type: ignore[call-overload]
            storage = conn.execute(PAYLOAD_STORAGE, (self.chunk_table,)).fetchone()
            if storage is not None and storage[0] != "e":
                conn.execute(
                    sql.SQL("ALTER TABLE {} ALTER COLUMN payload SET STORAGE EXTERNAL").format(
                        sql.Identifier(self.chunk_table)
                    )
                )

        self._run(create)
        self._chunk_schema_ready = True

    def insert_chunk(self, doc: ChunkDocument) -> int:
        """Record a scored chunk (one row); the number of decisions inserted: its rows, or 0
        if that chunk is already stored (``ON CONFLICT DO NOTHING``)."""
        if not self._chunk_schema_ready:
            self.ensure_chunk_schema()
        table = sql.Identifier(self.chunk_table)
        query = sql.SQL(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING RETURNING row_count"
        ).format(
            table,
            sql.SQL(", ").join(map(sql.Identifier, CHUNK_COLUMNS)),
            sql.SQL(", ").join(sql.Placeholder() * len(CHUNK_COLUMNS)),
        )

        def write(conn: psycopg.Connection[Any]) -> int:
            if doc.day not in self._chunk_days:
                conn.execute(LOCK, (self.chunk_table,))
                conn.execute(  # type: ignore[call-overload]
                    create_partition_sql(self.chunk_table, doc.day, self.chunk_prefix)
                )
                self._chunk_days.add(doc.day)
            row = conn.execute(query, doc.row(), binary=True).fetchone()
            return 0 if row is None else int(row[0])

        try:
            return int(self._run(write))
        except Exception:
            self._chunk_days.clear()
            raise

    @property
    def chunk_prefix(self) -> str:
        return f"{self.chunk_table}_"

    def _insert(
        self, days: set[date], options: sql.Composable, load: Any, direct: bool = False
    ) -> int:
        """COPY (``load(copy)``) straight into the table when ``direct`` and no key is
        stored yet; else into the temp table, then insert what is not stored yet."""
        if not self._schema_ready:
            self.ensure_schema()
        columns = sql.SQL(", ").join(map(sql.Identifier, COLUMNS))
        table = sql.Identifier(self.table)

        def straight(conn: psycopg.Connection[Any]) -> int | None:
            """The rows COPYed into the table, or None (a key is stored: nothing done)."""
            try:
                with conn.transaction(), conn.cursor() as cur:  # a savepoint
                    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN{}").format(table, columns, options)
                    with cur.copy(copy_sql) as copy:
                        load(copy)
                    return int(cur.rowcount)
            except psycopg.errors.UniqueViolation:
                return None

        def write(conn: psycopg.Connection[Any]) -> int:
            self._ensure_days(conn, days)
            if direct and (inserted := straight(conn)) is not None:
                return inserted
            conn.execute(
                sql.SQL(
                    "CREATE TEMP TABLE IF NOT EXISTS decisions_in "
                    "(LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                ).format(table)
            )
            with conn.cursor() as cur:
                copy_sql = sql.SQL("COPY decisions_in ({}) FROM STDIN{}").format(columns, options)
                with cur.copy(copy_sql) as copy:
                    load(copy)
                cur.execute(
                    sql.SQL(
                        "INSERT INTO {} ({}) SELECT {} FROM decisions_in ON CONFLICT DO NOTHING"
                    ).format(table, columns, columns)
                )
                return cur.rowcount

        try:
            return int(self._run(write))
        except Exception:
            self._days.clear()
            raise

    def partitions(self, table: str | None = None) -> list[str]:
        def names(conn: psycopg.Connection[Any]) -> list[str]:
            rows = conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
                (table or self.table,),
            ).fetchall()
            return sorted(r[0] for r in rows)

        return list(self._run(names))

    def drop_expired(self, retention_days: int, today: date | None = None) -> list[str]:
        """Drop the day partitions older than ``retention_days`` (of the decision table and
        of the chunk table); their names."""
        if retention_days <= 0:
            return []
        if not self._schema_ready:
            self.ensure_schema()
        if not self._chunk_schema_ready:
            self.ensure_chunk_schema()
        day = today or datetime.now(UTC).date()
        old = expired(self.partitions(), day, retention_days)
        old += expired(self.partitions(self.chunk_table), day, retention_days, self.chunk_prefix)

        def drop(conn: psycopg.Connection[Any]) -> None:
            conn.execute(LOCK, (self.table,))
            conn.execute(LOCK, (self.chunk_table,))
            for name in old:
                conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))

        if old:
            self._run(drop)
            self._days.clear()
            self._chunk_days.clear()
        return old

    def _select(self, where: sql.Composable, absent: Iterable[str] = ()) -> sql.Composed:
        """The stored columns of the rows ``where`` says; an ``absent`` column (a table not
        yet migrated) reads as null."""
        missing = set(absent)
        columns = sql.SQL(", ").join(
            sql.SQL("NULL AS {}").format(sql.Identifier(c)) if c in missing else sql.Identifier(c)
            for c in COLUMNS
        )
        return sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY decided_at, item, row_index").format(
            columns, sql.Identifier(self.table), where
        )

    def find(self, request_id: str) -> list[dict[str, Any]]:
        """Every decision of a request (a bulk request has one per applicant). Its own
        connection (callers run it off the writer thread); no table yet means none."""
        return self._find(sql.SQL("request_id = %s"), (request_id,))

    def find_row(self, job_id: str, row_index: int | None = None) -> list[dict[str, Any]]:
        """A batch job's decision of input row ``row_index`` (1-based), or all of the
        job's decisions (``None``); by the job index, like ``find``. Decisions recorded per
        chunk are decoded from their chunk's document (only that row's, for one row)."""
        if row_index is None:
            rows = self._find(sql.SQL("job_id = %s"), (job_id,))
            where = sql.SQL("job_id = %s")
            params: tuple[Any, ...] = (job_id,)
        else:
            rows = self._find(sql.SQL("job_id = %s AND row_index = %s"), (job_id, row_index))
            where = sql.SQL("job_id = %s AND first_row <= %s AND last_row >= %s")
            params = (job_id, row_index, row_index)
        for doc in self._chunks(where, params):
            rows += chunk_rows(doc, row_index)
        return rows

    def _chunks(self, where: sql.Composable, params: Sequence[Any]) -> Iterator[ChunkDocument]:
        """Stored chunks ``where`` says, in time and row order (none if no table yet)."""
        query = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY decided_at, first_row").format(
            sql.SQL(", ").join(map(sql.Identifier, CHUNK_COLUMNS)),
            sql.Identifier(self.chunk_table),
            where,
        )
        with psycopg.connect(
            self.dsn, connect_timeout=self.connect_timeout, row_factory=dict_row
        ) as conn:
            exists = conn.execute("SELECT to_regclass(%s)", (self.chunk_table,)).fetchone()
            if exists is None or exists["to_regclass"] is None:
                return
            with conn.cursor(name="decision_chunks_read") as cur:  # server-side: streamed
                cur.itersize = 4  # a few chunks' documents in memory at a time
                cur.execute(query, params)
                for row in cur:
                    yield ChunkDocument.from_stored(row)

    def _find(self, where: sql.Composable, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with psycopg.connect(
            self.dsn, connect_timeout=self.connect_timeout, row_factory=dict_row
        ) as conn:
            try:
                return list(conn.execute(self._select(where), params).fetchall())
            except psycopg.errors.UndefinedTable:
                return []
            except psycopg.errors.UndefinedColumn:  # no writer of this version has run yet
                conn.rollback()
            query = self._select(where, absent=ADDED_COLUMNS)
            return list(conn.execute(query, params).fetchall())

    def export(
        self, since: datetime, until: datetime, model_version: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Decisions with ``since <= decided_at < until`` (and the version), streamed: the
        per-row table's, then the chunk table's decoded row by row (same columns)."""
        where: sql.Composable = sql.SQL("decided_at >= %s AND decided_at < %s")
        params: list[Any] = [since, until]
        if model_version is not None:
            where = sql.SQL("{} AND model_version = %s").format(where)
            params.append(model_version)
        if not self._schema_ready:
            self.ensure_schema()
        query = self._select(where)
        with (
            psycopg.connect(
                self.dsn, connect_timeout=self.connect_timeout, row_factory=dict_row
            ) as conn,
            conn.cursor(name="decisions_export") as cur,
        ):
            cur.execute(query, params)
            yield from cur
        for doc in self._chunks(where, params):
            yield from chunk_rows(doc)

    def count(self) -> int:
        def n(conn: psycopg.Connection[Any]) -> int:
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(self.table))
            return int(conn.execute(query).fetchone()[0])  # type: ignore[index]

        return int(self._run(n))


def chunk_rows(doc: ChunkDocument, row_index: int | None = None) -> list[dict[str, Any]]:
    """A stored chunk's decisions as the per-row table's rows read back (``inputs`` and
    ``reasons`` parsed, as psycopg gives the ``json`` columns). pyarrow is imported here:
    the lean inference image, which never reads chunks, has none."""
    from services.core.decisions.chunk_codec import decoded_rows

    rows = decoded_rows(doc, row_index)
    for row in rows:
        for key in ("inputs", "reasons"):
            if row[key] is not None:
                row[key] = json.loads(row[key])
    return rows
