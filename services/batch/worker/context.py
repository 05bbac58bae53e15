"""A worker process's context: the loaded model versions (a ``VersionCache`` keyed by the
URI a job pinned), Redis, storage.

Tasks get only ``(job_id, chunk_index)``; everything else comes from here, and the model
version from the job's record (pinned at submit). The worker entry point builds and
installs the context before taking tasks, loading the version ``model_uri`` names now (a
worker that cannot load it does not start); under a plain ``rq worker`` it is built on
first use.
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
from services.core.model_store import LoadedModel, load_model
from services.core.registry import pin
from services.core.version_cache import VersionCache


@dataclass
class WorkerContext:
    backend: Backend
    models: VersionCache[LoadedModel]
    name: str  # host:pid, recorded in each result file

    def model_for(self, uri: str) -> LoadedModel:
        """The model version ``uri`` names, loaded on first use. Jobs name the concrete
        version pinned at submit; an alias (a job submitted before pinning) is resolved
        now, so the cache never serves an alias from what it pointed at earlier."""
        return self.models.get(pin(self.settings.mlflow_tracking_uri, uri).uri)

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
    """Connect to Redis and load the version ``model_uri`` names now (``ModelLoadError``
    if it cannot be loaded)."""
    models = VersionCache(
        lambda uri: load_model(uri, settings.mlflow_tracking_uri, settings.nthread),
        settings.model_cache_size,
    )
    ctx = WorkerContext(
        Backend.connect(settings, redis), models, f"{socket.gethostname()}:{os.getpid()}"
    )
    ctx.model_for(settings.model_uri)
    return ctx


def install(context: WorkerContext) -> None:
    global _context
    _context = context


def context() -> WorkerContext:
    """This process's context, built on first use (e.g. under a plain ``rq worker``)."""
    if _context is None:
        install(build_context(get_settings()))
    assert _context is not None
    return _context
