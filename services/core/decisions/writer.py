"""The background writer: decisions are queued in memory by the request path (one
``deque.extend``, no I/O, no formatting) and written by one thread in batches.

Each batch is formatted (``record.to_row``: the privacy setting applies here) and inserted
in one transaction. If PostgreSQL fails, the batch goes to the on-disk spool and the
writer stops trying the database for ``retry_seconds`` (new batches go straight to the
spool, so an outage costs no connect timeout per batch); once a write succeeds again, the
spool is replayed oldest first and emptied. A batch chunk comes as one ``DecisionBlock``
(its rows built column-wise) and is written as such, in one transaction, by CSV COPY; it is
spooled as ordinary rows. What neither the database nor the spool can
take (spool full, memory queue full, shutdown deadline) is counted in
``decisions_lost_total{reason}`` and logged: never dropped silently. ``close()`` (the
services call it on SIGTERM) drains the queue before returning.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from services.core.decisions.chunk import ChunkDocument
from services.core.decisions.metrics import DecisionMetrics
from services.core.decisions.record import Decision, Row, to_row
from services.core.decisions.settings import DecisionSettings
from services.core.decisions.spool import Spool
from services.core.decisions.store import DecisionStore

if TYPE_CHECKING:  # pyarrow: batch workers only; the lean inference image has none
    from services.core.decisions.block import DecisionBlock

RETENTION_EVERY_SECONDS = 3600.0
REPLAY_ROWS = 10_000  # spooled rows per replay transaction


class DecisionWriter:
    def __init__(
        self,
        settings: DecisionSettings,
        metrics: DecisionMetrics,
        store: DecisionStore | None = None,
    ) -> None:
        self.settings, self.metrics = settings, metrics
        self.store = store or DecisionStore(
            settings.dsn.get_secret_value(),
            settings.table,
            settings.connect_timeout_seconds,
            settings.chunk_table,
        )
        self.spool = Spool(settings.spool_dir, settings.spool_max_bytes)
        self.salt = settings.hash_salt.get_secret_value()
        self._queue: deque[Decision | DecisionBlock | ChunkDocument] = deque()
        self._queued = 0  # rows in the queue (a block counts its rows)
        self._wake = threading.Condition()
        self._submitted = 0  # decisions accepted into the queue (ever)
        self._handled = 0  # decisions written, spooled or counted lost (ever)
        self._stopping = False
        self._retry_at = 0.0  # monotonic time before which the database is not tried
        self._retention_at = 0.0
        self._thread = threading.Thread(target=self._run, name="decision-writer", daemon=True)
        metrics.queue_rows.set_function(lambda: self._queued)
        metrics.spool_bytes.set(self.spool.size())

    # -- the request path --------------------------------------------------------------
    def submit(self, decisions: Iterable[Decision]) -> None:
        """Queue decisions for writing (never blocks on I/O)."""
        self._enqueue(list(decisions))

    def submit_block(self, block: DecisionBlock) -> None:
        """Queue a block of decisions (a batch chunk's), written in one piece."""
        self._enqueue([block], len(block))

    def submit_chunk(self, doc: ChunkDocument) -> None:
        """Queue a recorded batch chunk (one row of the chunk table; counts its rows)."""
        self._enqueue([doc], len(doc))

    def _enqueue(
        self, items: list[Decision] | list[DecisionBlock] | list[ChunkDocument], rows: int = -1
    ) -> None:
        rows = len(items) if rows < 0 else rows
        if self._queued + rows > self.settings.queue_rows:
            self.metrics.lost.labels("queue_full").inc(rows)
            logger.error(
                "decision record: memory queue full ({} rows), {} decisions not kept",
                self._queued,
                rows,
            )
            return
        with self._wake:
            self._queue.extend(items)
            self._queued += rows
            self._submitted += rows
            if self._queued >= self.settings.batch_rows:
                self._wake.notify()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> DecisionWriter:
        """Start the thread (again after ``close``: an app's lifespan may run twice)."""
        if not self._thread.is_alive():
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="decision-writer", daemon=True)
            self._thread.start()
        return self

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted so far is written, spooled or counted lost."""
        deadline = time.monotonic() + timeout
        with self._wake:
            target = self._submitted
            self._wake.notify_all()
            while self._handled < target:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._wake.wait(min(left, 0.05))
        return True

    def close(self, timeout: float | None = None) -> None:
        """Drain the queue and stop; what is left after ``timeout`` is counted lost."""
        timeout = self.settings.shutdown_seconds if timeout is None else timeout
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        left = self._queued
        if left:
            self.metrics.lost.labels("shutdown").inc(left)
            logger.error("decision record: {} decisions not written at shutdown", left)
        self.store.close()

    # -- the writer thread -------------------------------------------------------------
    def _take(self) -> list[Decision] | DecisionBlock | ChunkDocument:
        """Up to ``batch_rows`` decisions, or the block (or chunk) at the head of the
        queue."""
        with self._wake:
            if not self._stopping and self._queued < self.settings.batch_rows:
                self._wake.wait(self.settings.flush_seconds)
            head = self._queue[0] if self._queue else None
            if head is not None and not isinstance(head, Decision):
                self._queue.popleft()
                self._queued -= len(head)
                return head
            batch: list[Decision] = []
            while self._queue and len(batch) < self.settings.batch_rows:
                item = self._queue[0]
                if not isinstance(item, Decision):
                    break
                batch.append(item)
                self._queue.popleft()
            self._queued -= len(batch)
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take()
            if len(batch):
                try:
                    if not isinstance(batch, list):
                        self._write(batch)
                    else:
                        self._write([to_row(d, self.settings.inputs, self.salt) for d in batch])
                except Exception as exc:  # a bug must not stop the thread unseen
                    self.metrics.lost.labels("error").inc(len(batch))
                    logger.opt(exception=exc).error(
                        "decision record: {} decisions not kept", len(batch)
                    )
                with self._wake:
                    self._handled += len(batch)
                    self._wake.notify_all()
            elif self._stopping:
                return
            try:
                self._maintain()
            except Exception as exc:
                logger.opt(exception=exc).error("decision record: spool replay failed")

    def _database_due(self) -> bool:
        return time.monotonic() >= self._retry_at

    def _insert(self, rows: list[Row] | DecisionBlock | ChunkDocument) -> bool:
        try:
            if isinstance(rows, ChunkDocument):
                inserted = self.store.insert_chunk(rows)
            elif not isinstance(rows, list):
                csv = rows.csv(self.settings.inputs, self.salt)
                inserted = self.store.insert_csv(csv, [rows.day])
            else:
                inserted = self.store.insert(rows)
        except Exception as exc:
            self._retry_at = time.monotonic() + self.settings.retry_seconds
            self.metrics.database_up.set(0)
            logger.warning("decision record: PostgreSQL write failed ({}): spooling", exc)
            return False
        self.metrics.database_up.set(1)
        self.metrics.recorded.inc(inserted)
        self.metrics.duplicates.inc(len(rows) - inserted)
        return True

    def _write(self, batch: list[Row] | DecisionBlock | ChunkDocument) -> None:
        if self._database_due() and self._insert(batch):
            return
        if isinstance(batch, ChunkDocument):  # spooled as it is: one file
            self._spool_chunk(batch)
            return
        rows = (  # a block is spooled as ordinary rows
            batch.rows(self.settings.inputs, self.salt) if not isinstance(batch, list) else batch
        )
        if self.spool.append(rows):
            self.metrics.spooled.inc(len(rows))
        else:
            self.metrics.lost.labels("spool_full").inc(len(rows))
            logger.error(
                "decision record: spool full ({} of {} bytes), {} decisions not kept",
                self.spool.size(),
                self.settings.spool_max_bytes,
                len(rows),
            )
        self.metrics.spool_bytes.set(self.spool.size())

    def _spool_chunk(self, doc: ChunkDocument) -> None:
        if self.spool.append_chunk(doc):
            self.metrics.spooled.inc(len(doc))
        else:
            self.metrics.lost.labels("spool_full").inc(len(doc))
            logger.error(
                "decision record: spool full ({} of {} bytes), chunk {}:{} ({} decisions) not kept",
                self.spool.size(),
                self.settings.spool_max_bytes,
                doc.job_id,
                doc.first_row,
                len(doc),
            )
        self.metrics.spool_bytes.set(self.spool.size())

    def _replay_chunk(self, path: Path) -> int | None:
        """Insert one spooled chunk and delete its file: its rows, or None (database
        down: kept for later). An unreadable file is set aside (0)."""
        try:
            doc = self.spool.read_chunk(path)
        except (OSError, ValueError, KeyError) as exc:
            self.spool.quarantine(path)
            logger.error("decision record: spool file {} unreadable ({})", path, exc)
            return 0
        if not self._insert(doc):
            return None
        self.spool.remove(path)
        self.metrics.replayed.inc(len(doc))
        return len(doc)

    def _maintain(self) -> None:
        """Replay the spool while the database answers; apply retention now and then."""
        if not self._database_due():
            return
        replayed = 0
        files = self.spool.files()
        while files:
            if self._stopping and self._queued:
                break  # at shutdown the queue comes first; the spool survives us
            if self.spool.is_chunk(files[0]):
                done = self._replay_chunk(files.pop(0))
                if done is None:
                    break
                replayed += done
                continue
            group: list[Path] = []  # several small files per transaction
            rows: list[Row] = []
            while files and len(rows) < REPLAY_ROWS and not self.spool.is_chunk(files[0]):
                path = files.pop(0)
                try:
                    rows += self.spool.read(path)
                except (OSError, ValueError) as exc:  # unreadable: set aside, never retried
                    self.spool.quarantine(path)
                    logger.error("decision record: spool file {} unreadable ({})", path, exc)
                    continue
                group.append(path)
            if not self._insert(rows):
                break
            for path in group:
                self.spool.remove(path)
            self.metrics.replayed.inc(len(rows))
            replayed += len(rows)
        if replayed:
            logger.info("decision record: replayed {} spooled decisions", replayed)
        self.metrics.spool_bytes.set(self.spool.size())
        if self.settings.retention_days and time.monotonic() >= self._retention_at:
            self._retention_at = time.monotonic() + RETENTION_EVERY_SECONDS
            try:
                dropped = self.store.drop_expired(
                    self.settings.retention_days, datetime.now(UTC).date()
                )
            except Exception as exc:
                logger.warning("decision record: retention failed ({})", exc)
            else:
                if dropped:
                    logger.info("decision record: dropped partitions {}", dropped)


def start_writer(
    settings: DecisionSettings, metrics: DecisionMetrics | None = None
) -> DecisionWriter | None:
    """A started writer, or None when the record is off (no DSN)."""
    if not settings.enabled:
        logger.info("decision record off (DECISIONS_DSN not set)")
        return None
    return DecisionWriter(settings, metrics or DecisionMetrics()).start()
