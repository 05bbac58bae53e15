"""A write audit of the MLflow registry store the operator uses (sqlite, as in the suite).

MLflow keeps no history of aliases or model-version tags: setting one overwrites the row.
``RegistryAudit.install`` adds SQLite triggers to the store that copy every INSERT, UPDATE
and DELETE of ``registered_model_aliases`` and ``model_version_tags`` into an audit table,
so a test can count how often the operator really changed the ``champion`` alias or a
decision tag. MLflow writes both through ``session.merge``: setting a value a row already
has issues no SQL at all, so a repeated identical write (an idempotent retry) leaves no
trace — only real changes are counted.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TABLE = "test_registry_audit"
WATCHED = {
    "registered_model_aliases": ("alias", "alias", "NULL"),  # kind, key column, value column
    "model_version_tags": ("tag", "key", "value"),
}


@dataclass(frozen=True)
class Write:
    id: int
    kind: str  # alias | tag
    op: str  # insert | update | delete
    name: str  # registered model
    version: str
    key: str  # alias name or tag key
    value: str | None  # tag value (None for aliases)


def _triggers() -> Iterator[str]:
    for table, (kind, key, value) in WATCHED.items():
        for op, row in (("insert", "NEW"), ("update", "NEW"), ("delete", "OLD")):
            value_sql = "NULL" if value == "NULL" else f"{row}.{value}"
            yield (
                f"CREATE TRIGGER IF NOT EXISTS {TABLE}_{table}_{op} AFTER {op.upper()} "
                f"ON {table} BEGIN INSERT INTO {TABLE} (kind, op, name, version, key, value) "
                f"VALUES ('{kind}', '{op}', {row}.name, {row}.version, {row}.{key}, "
                f"{value_sql}); END"
            )


class RegistryAudit:
    def __init__(self, tracking_uri: str) -> None:
        if not tracking_uri.startswith("sqlite:///"):
            raise ValueError(f"the audit needs a sqlite store, not {tracking_uri!r}")
        self.path = Path(tracking_uri.removeprefix("sqlite:///"))

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def install(self) -> RegistryAudit:
        """Create the audit table and triggers (idempotent)."""
        with self._db() as db:
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "kind TEXT, op TEXT, name TEXT, version TEXT, key TEXT, value TEXT)"
            )
            for statement in _triggers():
                db.execute(statement)
        return self

    def mark(self) -> int:
        """The id of the latest write so far: ``writes(after=mark)`` shows what follows."""
        with self._db() as db:
            return int(db.execute(f"SELECT COALESCE(MAX(id), 0) FROM {TABLE}").fetchone()[0])

    def writes(self, name: str, after: int = 0) -> list[Write]:
        """Writes to model ``name``'s aliases and version tags after ``after``, in order."""
        with self._db() as db:
            rows = db.execute(
                f"SELECT id, kind, op, name, version, key, value FROM {TABLE} "
                "WHERE name = ? AND id > ? ORDER BY id",
                (name, after),
            ).fetchall()
        return [Write(int(r[0]), r[1], r[2], r[3], str(r[4]), r[5], r[6]) for r in rows]
