"""Day partitions of the decision table, and retention (pure: names, bounds, SQL text).

The table is ``PARTITION BY RANGE (day)``; each day has its own partition,
``decisions_YYYYMMDD``, created before the first write of that day (the chunk table of
batch decisions: ``decision_chunks_YYYYMMDD``). Retention drops whole
partitions older than the setting (no row-by-row delete, no bloat).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

PREFIX = "decisions_"
NAME = re.compile(rf"^{PREFIX}(\d{{8}})$")


def partition_name(day: date, prefix: str = PREFIX) -> str:
    return f"{prefix}{day:%Y%m%d}"


def partition_day(name: str, prefix: str = PREFIX) -> date | None:
    """The day of a partition's name; None for any other table."""
    match = NAME.match(name) if prefix == PREFIX else re.match(rf"^{prefix}(\d{{8}})$", name)
    if not match:
        return None
    text = match.group(1)
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def create_partition_sql(table: str, day: date, prefix: str = PREFIX) -> str:
    """DDL of ``day``'s partition (names and dates are ours, never user input)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(day, prefix)} PARTITION OF {table} "
        f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
    )


def expired(
    names: Iterable[str], today: date, retention_days: int, prefix: str = PREFIX
) -> list[str]:
    """Partitions wholly older than ``retention_days`` (0 = keep everything), oldest first."""
    if retention_days <= 0:
        return []
    cutoff = today - timedelta(days=retention_days)
    days = [(d, n) for n in names if (d := partition_day(n, prefix)) is not None and d < cutoff]
    return [n for _, n in sorted(days)]
