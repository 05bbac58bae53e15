"""A live batch system for the fault suite: a redis-server that can be SIGKILLed and
restarted on its port (with its data or without), the job API as a uvicorn process and
rq worker processes (``python -m services.batch api|worker``), each in its own process
group and logging to a file, all configured through the environment as in production."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path

import httpx
from redis import Redis

from services.batch.settings import BatchSettings
from services.core.web.auth import HEADER, hash_key
from tests.integration.batch.harness import BatchProcess, wait_for
from tests.support.processes import RedisServer, free_port

ROOT = Path(__file__).resolve().parents[3]
API_KEY = "system-batch-key"
AUTH = {HEADER: API_KEY}
FINAL = frozenset({"succeeded", "failed", "cancelled"})


class Persistence(StrEnum):
    """What a restarted Redis comes back with."""

    AOF = "aof"  # every acknowledged write (append-only file, fsync always)
    RDB = "rdb"  # the snapshot the test takes mid-run: Redis comes back rolled back
    EMPTY = "empty"  # nothing: no RDB, no AOF


REDIS_FLAGS = {
    Persistence.AOF: ["--appendonly", "yes", "--appendfsync", "always", "--save", ""],
    Persistence.RDB: ["--appendonly", "no", "--save", "", "--dbfilename", "dump.rdb"],
    Persistence.EMPTY: ["--appendonly", "no", "--save", "", "--dbfilename", "never.rdb"],
}


class OutageRedis(RedisServer):
    """A real ``redis-server`` that can die by SIGKILL and come back on the same port
    with every write (AOF), with the last snapshot (RDB) or empty."""

    def __init__(self, workdir: Path, persistence: Persistence) -> None:
        super().__init__(workdir)
        self.persistence = persistence

    def flags(self) -> list[str]:
        return ["--logfile", str(self.workdir / "redis.log"), *REDIS_FLAGS[self.persistence]]

    def snapshot(self) -> None:
        """SAVE an RDB snapshot now (only the RDB mode loads it at restart)."""
        Redis.from_url(self.url, socket_timeout=5).save()

    def loaded_from_disk(self) -> bool:
        """Whether the running server started with data from disk (its log says so)."""
        log = (self.workdir / "redis.log").read_text(errors="replace").splitlines()
        since_start = log[max(i for i, line in enumerate(log) if "Server initialized" in line) :]
        return any("DB loaded from" in line for line in since_start)

    def kill(self) -> None:
        """SIGKILL: no shutdown save, no goodbye to clients."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self.proc = None


def service_env(settings: BatchSettings) -> dict[str, str]:
    """The environment that gives a ``python -m services.batch`` process ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATCH_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "REDIS_URL": settings.redis_url,
            "BATCH_REDIS_URL": settings.redis_url,
            "MODEL_URI": settings.model_uri,
            "BATCH_MODEL_URI": settings.model_uri,
            "MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        }
    )
    skip = {"redis_url", "model_uri", "mlflow_tracking_uri"}
    for name in BatchSettings.model_fields:
        if name in skip:
            continue
        value = getattr(settings, name)
        if isinstance(value, list):
            env[f"BATCH_{name.upper()}"] = json.dumps(value, default=str)
        elif isinstance(value, bool):
            env[f"BATCH_{name.upper()}"] = str(value).lower()
        else:
            env[f"BATCH_{name.upper()}"] = str(value)
    return env


def service_process(settings: BatchSettings, log: Path, *args: str) -> BatchProcess:
    """``python -m services.batch <args>`` with every setting in its environment."""
    return BatchProcess(settings, log, *args, env=service_env(settings))


class BatchStack:
    """Redis, the job API on a free port and ``n_workers`` workers, sharing one storage."""

    def __init__(self, settings: BatchSettings, redis: OutageRedis, logs: Path) -> None:
        self.settings = settings
        self.redis = redis
        self.logs = logs
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api: BatchProcess | None = None
        self.workers: list[BatchProcess] = []

    def start(self, n_workers: int) -> BatchStack:
        self.logs.mkdir(parents=True, exist_ok=True)
        self.api = service_process(
            self.settings,
            self.logs / "api.log",
            "api",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        )
        for i in range(n_workers):
            log = self.logs / f"worker-{i}.log"
            self.workers.append(service_process(self.settings, log, "worker", "--name", f"w{i}"))
        wait_for("the batch API to be ready", self.ready, 180, 0.25)
        return self

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def client(self, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=timeout)

    def stop(self) -> None:
        for process in [*self.workers, *([self.api] if self.api else [])]:
            process.stop()
        self.redis.stop()

    def logs_tail(self, lines: int = 40) -> str:
        parts = []
        for process in [*([self.api] if self.api else []), *self.workers]:
            tail = "\n".join(process.output().splitlines()[-lines:])
            parts.append(f"--- {process.log.name} (pid {process.pid}) ---\n{tail}")
        return "\n".join(parts)


def stack_settings(
    redis: RedisServer, root: Path, model_uri: str, tracking_uri: str, **overrides: object
) -> BatchSettings:
    """Settings for a system run: small chunks, short leases and maintenance intervals so
    recovery happens within the test's bounded waits, one booster thread per worker."""
    options: dict[str, object] = {
        "redis_url": redis.url,
        "model_uri": model_uri,
        "mlflow_tracking_uri": tracking_uri,
        "storage_dir": root / "store",
        "chunk_rows": 10_000,
        "lease_seconds": 3,
        "maintenance_interval_seconds": 1,
        "worker_ttl_seconds": 16,
        "retry_backoff_seconds": [0, 1],
        "max_retries": 3,
        "redis_timeout_seconds": 2.0,
        "nthread": 1,
        "log_json": False,
        "api_key_hashes": [hash_key(API_KEY)],
    }
    options.update(overrides)
    return BatchSettings(**options)  # type: ignore[arg-type]
