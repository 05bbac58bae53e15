"""Day partitions of the decision table, and retention (pure: names, bounds, SQL text).

The table is ``PARTITION BY RANGE (day)``; each day has its own partition,
``decisions_YYYYMMDD``, created before the first write of that day. Retention drops whole
partitions older than the setting (no row-by-row delete, no bloat).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

PREFIX = "decisions_"
NAME = re.compile(rf"^{PREFIX}(\d{{8}})$")


def partition_name(day: date) -> str:
    return f"{PREFIX}{day:%Y%m%d}"


def partition_day(name: str) -> date | None:
    """The day of a partition's name; None for any other table."""
    match = NAME.match(name)
    if not match:
        return None
    text = match.group(1)
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def create_partition_sql(table: str, day: date) -> str:
    """DDL of ``day``'s partition (names and dates are ours, never user input)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF {table} "
        f"FOR VALUES FROM ('{day.isoformat()}') TO ('{(day + timedelta(days=1)).isoformat()}')"
    )


def expired(names: Iterable[str], today: date, retention_days: int) -> list[str]:
    """Partitions wholly older than ``retention_days`` (0 = keep everything), oldest first."""
    if retention_days <= 0:
        return []
    cutoff = today - timedelta(days=retention_days)
    days = [(d, n) for n in names if (d := partition_day(n)) is not None and d < cutoff]
    return [n for _, n in sorted(days)]
