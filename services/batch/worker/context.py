"""A worker process's context: the model (loaded once per process), Redis, storage.

Tasks get only ``(job_id, chunk_index)``; everything else comes from here. The worker
entry point builds and installs the context before taking tasks; under a plain
``rq worker`` it is built on first use.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from redis import Redis

from services.batch.settings import BatchSettings, get_settings
from services.batch.state.backend import Backend
from services.batch.state.queue import Enqueuer
from services.batch.state.storage import Storage
from services.batch.state.store import RedisJobStore
from services.core.decisions.settings import DecisionSettings
from services.core.decisions.writer import DecisionWriter, start_writer
from services.core.model_store import LoadedModel, load_model


@dataclass
class WorkerContext:
    backend: Backend
    model: LoadedModel
    name: str  # host:pid, recorded in each result file
    decisions: DecisionWriter | None = None  # None: the decision record is off

    @property
    def settings(self) -> BatchSettings:
        return self.backend.settings

    @property
    def store(self) -> RedisJobStore:
        return self.backend.store

    @property
    def storage(self) -> Storage:
        return self.backend.storage

    @property
    def enqueuer(self) -> Enqueuer:
        return self.backend.enqueuer


_context: WorkerContext | None = None


def build_context(settings: BatchSettings, redis: Redis | None = None) -> WorkerContext:
    """Load the model (once per process), connect to Redis, start the decision writer
    (when ``DECISIONS_DSN`` is set)."""
    model = load_model(settings.model_uri, settings.mlflow_tracking_uri, settings.nthread)
    return WorkerContext(
        Backend.connect(settings, redis),
        model,
        f"{socket.gethostname()}:{os.getpid()}",
        start_writer(DecisionSettings()),
    )


def install(context: WorkerContext) -> None:
    global _context
    _context = context


def context() -> WorkerContext:
    """This process's context, built on first use (e.g. under a plain ``rq worker``)."""
    if _context is None:
        install(build_context(get_settings()))
    assert _context is not None
    return _context
