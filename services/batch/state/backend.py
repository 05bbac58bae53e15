"""``Backend``: what the API, the workers and the CLI share — Redis job state, the files on
shared storage and the task queue — connected from the settings in one place."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from services.batch.settings import BatchSettings
from services.batch.state.queue import Enqueuer
from services.batch.state.storage import Storage
from services.batch.state.store import RedisJobStore


@dataclass(frozen=True)
class Backend:
    settings: BatchSettings
    redis: Redis
    store: RedisJobStore
    storage: Storage
    enqueuer: Enqueuer

    @property
    def target(self) -> str:
        """``host:port`` of Redis, for messages (the URL may hold a password)."""
        kwargs = self.redis.connection_pool.connection_kwargs
        return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"

    @classmethod
    def connect(cls, settings: BatchSettings, redis: Redis | None = None) -> Backend:
        timeout = settings.redis_timeout_seconds
        redis = redis or Redis.from_url(
            settings.redis_url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
        )
        return cls(
            settings,
            redis,
            RedisJobStore(redis, settings.key_prefix),
            Storage(settings.storage_dir, settings.allowed_input_dirs),
            Enqueuer(redis, settings),
        )
