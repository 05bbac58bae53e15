"""Controller settings (env prefix ``CONTROLLER_``; ``MLFLOW_TRACKING_URI`` without prefix).

Per-rollout behaviour (interval, thresholds, gates) lives in each ModelRollout's spec;
these are the operator process's own knobs.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from services.core.settings import ServiceSettings


class ControllerSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONTROLLER_", extra="ignore", populate_by_name=True
    )

    namespaces: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="namespaces to watch (comma-separated or JSON list); empty = all namespaces",
    )
    prometheus_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Prometheus addresses a ModelRollout may name (comma-separated or JSON "
        "list); empty = any",
    )
    webhook_allowlist: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="URL prefixes a ModelRollout's webhooks may call (comma-separated or JSON "
        "list); empty = any",
    )
    notifications_per_minute: float = Field(
        30.0, gt=0, description="notification messages per minute, all channels together"
    )
    notifications_burst: int = Field(
        10, ge=1, description="messages sent at once before the per-minute rate applies"
    )
    notifications_queue: int = Field(
        100, ge=1, description="transitions waiting for delivery; more are dropped (counted)"
    )
    tick_seconds: float = Field(
        5.0, gt=0, description="seconds between two reconciles of one ModelRollout"
    )
    workers: int = Field(
        8,
        ge=1,
        le=256,
        description="ModelRollouts reconciled at once (kopf's thread pool for the sync "
        "handlers; the Kubernetes connection pool holds two per worker)",
    )
    start_workers: int = Field(
        4,
        ge=1,
        le=256,
        description="of the workers, how many may reconcile starting ModelRollouts (no "
        "status yet, Pending, Initializing) at once; the others serve the rollouts further "
        "on (capped at workers)",
    )
    prometheus_connections: int = Field(
        16,
        ge=1,
        description="HTTP connections kept per Prometheus address; the PromQL queries of "
        "one analysis run concurrently over them",
    )
    events_drain_seconds: float = Field(
        5.0,
        ge=0,
        description="seconds the operator's shutdown waits for queued Kubernetes Events to "
        "be posted; what is still queued then is dropped (counted and logged)",
    )
    field_manager: str = Field(
        "modelrollout-controller", description="fieldManager of every write to the API"
    )
    kubeconfig: str | None = Field(
        None, description="kubeconfig file; unset = in-cluster service account, then ~/.kube"
    )
    request_timeout: float = Field(10.0, gt=0, description="seconds per Kubernetes API request")
    metrics_port: int = Field(
        8080, ge=0, description="port of the controller's /metrics (0 = not served)"
    )
    liveness_port: int = Field(
        8081, ge=0, description="port of kopf's /healthz liveness endpoint (0 = not served)"
    )

    @field_validator("namespaces", "prometheus_allowlist", "webhook_allowlist", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value


@lru_cache
def get_settings() -> ControllerSettings:
    return ControllerSettings()
