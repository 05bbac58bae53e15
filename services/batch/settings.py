"""Batch service settings (env prefix ``BATCH_``; ``REDIS_URL``, ``MODEL_URI`` and
``MLFLOW_TRACKING_URI`` are also read without prefix).

One class serves the job API, the workers and the CLI, so a job is planned and scored
with the same chunk size, storage folder and retry policy wherever it runs.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from services.core.paths import REPO_ROOT
from services.core.settings import KeyedServiceSettings, env_field, key_digests, rate_limit_spec


class BatchSettings(KeyedServiceSettings):
    model_config = SettingsConfigDict(env_prefix="BATCH_", extra="ignore", populate_by_name=True)

    redis_url: str = env_field(  # type: ignore[assignment]
        "redis://127.0.0.1:6379/0",
        "BATCH_REDIS_URL",
        "REDIS_URL",
        "redis_url",
        description="Redis holding the rq queue and job state",
    )
    model_uri: str = env_field(  # type: ignore[assignment]
        "models:/credit-default@champion",
        "BATCH_MODEL_URI",
        "MODEL_URI",
        "model_uri",
        description="model new jobs are scored with (models:/name@alias, models:/name/N, "
        "runs:/... or a folder); an alias is resolved to its version when a job is submitted "
        "and the job keeps that version",
    )
    model_cache_size: int = Field(
        2,
        ge=1,
        le=16,
        description="model versions a worker keeps loaded (least recently used dropped "
        "first); each holds one booster and its contract in memory (versions)",
    )
    admin_key_hashes: list[str] = Field(
        default_factory=list,
        description="SHA-256 hex digests of admin keys: accepted like API keys, and they see, "
        "cancel and download every key's jobs and name any input path (other keys: only "
        "their own jobs, and inputs under <input folder>/<key id>/)",
    )
    storage_dir: Path = Field(
        REPO_ROOT / ".batch",
        description="shared folder (a ReadWriteMany volume in Kubernetes) for inputs and results",
    )
    input_dirs: list[Path] = Field(
        default_factory=list,
        description="extra folders a job may name by path (storage_dir/inputs is always allowed)",
    )
    queue_name: str = Field("batch", description="rq queue of chunk tasks")
    key_prefix: str = Field("batch", description="prefix of the Redis keys holding job state")
    chunk_rows: int = Field(200_000, ge=1, description="rows per chunk task (rows)")
    max_chunk_rows: int = Field(
        500_000,
        ge=1,
        description="a long Parquet input's chunks grow up to this many rows, fewer tasks "
        "paying the per-chunk cost (never below chunk_rows; see min_chunks) (rows)",
    )
    min_chunks: int = Field(
        16,
        ge=1,
        description="chunks grow past chunk_rows only while a job keeps at least this many "
        "(so that many workers can share it) (chunks)",
    )
    nthread: int = Field(0, ge=0, description="booster threads per worker (0 = all cores)")
    reasons_top_k: int = Field(
        4,
        ge=0,
        le=50,
        description="reason code columns per result row (reason_1..k, with _feature and "
        "_contribution); 0 = none, and no TreeSHAP cost",
    )
    result_ttl_seconds: int = Field(
        86_400, ge=1, description="how long a finished job and its results are kept (seconds)"
    )
    max_retries: int = Field(3, ge=0, description="retries of a failed or abandoned chunk task")
    retry_backoff_seconds: list[int] = Field(
        default_factory=lambda: [0, 10, 60],
        description="wait before retry 1, 2, ... (seconds; the last value repeats). The first "
        "is 0 so a dead worker's chunk is re-queued at once; later waits need rq's scheduler, "
        "which the workers run",
    )
    chunk_timeout_seconds: int = Field(
        900, ge=1, description="a chunk task running longer is stopped and retried (seconds)"
    )
    lease_seconds: int = Field(
        30,
        ge=2,
        description="a worker that sends no heartbeat for this long is dead: its chunk "
        "is re-queued at the next maintenance pass (seconds)",
    )
    maintenance_interval_seconds: int = Field(
        30,
        ge=1,
        description="how often workers re-queue abandoned chunks, restore jobs lost "
        "from Redis and delete expired results (seconds)",
    )
    worker_ttl_seconds: int = Field(
        35,
        ge=16,
        description="worker registration TTL; an idle worker wakes every TTL-15 s (seconds)",
    )
    model_wait_seconds: int = Field(
        600,
        ge=0,
        description="how long a starting worker waits for its model (the first champion not "
        "registered yet, MLflow not up) before it exits (seconds)",
    )
    max_upload_bytes: int = Field(4 << 30, ge=1, description="largest request body (bytes)")
    max_json_bytes: int = Field(
        32 << 20,
        ge=1,
        description="largest JSON body (bytes): JSON is parsed in memory (several times its "
        "size), so it is capped well below the API pod's memory; bigger inputs go as a file",
    )
    max_json_rows: int = Field(100_000, ge=1, description="most rows in one JSON submission (rows)")
    rate_limit: str = Field(
        "",
        description="job API requests per API key id (anonymous callers: per client address), "
        "every /api/v1 route sharing one budget; limits syntax, several limits joined by ';', "
        "e.g. '10/second;300/minute'; over it: 429 with Retry-After; empty = off",
    )
    rate_limit_storage_uri: str = Field(
        "",
        description="Redis URL holding the rate-limit counters, shared by every API replica "
        "(the chart gives the ACL user 'ratelimit', db 1); empty = per-process memory",
    )
    access_log_probes: bool = Field(
        False, description="also log /healthz, /readyz and /metrics requests in the access log"
    )
    fault_chunk_delay_seconds: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="chaos: each chunk task waits this long before scoring, e.g. to drill "
        "lease renewal with chunks longer than the lease (seconds; 0 = off)",
    )
    submit_check_rows: int = Field(
        10_000,
        ge=1,
        description="rows validated at submit (422); later rows are checked by "
        "the workers and fail the job with a report (rows)",
    )
    redis_timeout_seconds: float = Field(5.0, gt=0, description="Redis socket timeout (seconds)")
    fsync_results: bool = Field(True, description="fsync each chunk result before renaming it")
    worker_metrics_port: int = Field(
        0, ge=0, description="port of a worker's Prometheus endpoint (0 = off)"
    )
    host: str = Field("0.0.0.0", description="job API bind address")
    port: int = Field(8001, description="job API port")

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        return rate_limit_spec(value)

    @field_validator("admin_key_hashes")
    @classmethod
    def _admin_digests(cls, value: list[str]) -> list[str]:
        return key_digests(value)

    @property
    def admin_ids(self) -> frozenset[str]:
        """Key ids (digest prefixes, as the auth reports callers) of the admin keys."""
        return frozenset(d[:12] for d in self.admin_key_hashes)

    @model_validator(mode="after")
    def _check_retries(self) -> BatchSettings:
        if any(s < 0 for s in self.retry_backoff_seconds):
            raise ValueError("retry_backoff_seconds must not be negative")
        return self

    @property
    def allowed_input_dirs(self) -> list[Path]:
        return [self.storage_dir / "inputs", *self.input_dirs]


@lru_cache
def get_settings() -> BatchSettings:
    return BatchSettings()
