"""The durable decision record: every decision (online, bulk, batch row), append-only in
PostgreSQL, written off the request path (see ``docs/decisions.md``).

Pure parts: ``record`` (what a decision is, and the row it becomes), ``partitions`` (day
partitions, retention). I/O: ``store`` (PostgreSQL), ``spool`` (the on-disk buffer of an
outage), ``writer`` (the background thread that batches writes). Importing this package
imports none of them, so pure callers stay free of the database driver.
"""
