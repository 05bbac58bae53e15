"""Inference settings: env prefix ``INFERENCE_``; ``MODEL_URI``, ``BASELINE_MODEL_URI``,
``TRACK``, ``SHADOW`` and ``REDIS_URL`` are also read without prefix (the names the Helm
chart and the rollout controller set).

Every field is documented with its unit; ``docs/inference.md`` lists them all.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import SettingsConfigDict

from services.core.settings import KeyedServiceSettings, rate_limit_spec

Track = Literal["stable", "canary"]


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class InferenceSettings(KeyedServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="INFERENCE_", extra="ignore", populate_by_name=True
    )

    model_uri: str = Field(
        "models:/credit-default@champion",
        validation_alias=_alias("INFERENCE_MODEL_URI", "MODEL_URI", "model_uri"),
        description="model to serve: models:/name@alias, models:/name/VERSION, runs:/… or a "
        "local folder holding contract.json + booster.ubj",
    )
    baseline_model_uri: str = Field(
        "",
        validation_alias=_alias(
            "INFERENCE_BASELINE_MODEL_URI", "BASELINE_MODEL_URI", "baseline_model_uri"
        ),
        description="paired scoring: a second model (the stable version, pinned as "
        "models:/name/VERSION; any model_uri form works) that also scores every applicant "
        "to compare decisions on the same applicant (inference_paired_* metrics); the "
        "answer is always the served model's; empty = off",
    )
    track: Track = Field(
        "stable",
        validation_alias=_alias("INFERENCE_TRACK", "TRACK", "track"),
        description="stable or canary: the `track` label of every metric series",
    )
    shadow: bool = Field(
        False,
        validation_alias=_alias("INFERENCE_SHADOW", "SHADOW", "shadow"),
        description="shadow pod: it only receives mirrored copies of requests whose "
        "answers the gateway discards, so it records no decision (the decision record "
        "stays off even with DECISIONS_DSN); answers and metrics are unchanged",
    )
    host: str = Field("0.0.0.0", description="listen address (python -m services.inference)")
    port: int = Field(8080, ge=1, le=65535, description="listen port (TCP)")
    nthread: int = Field(1, ge=0, description="booster threads per prediction (0 = all cores)")
    bulk_max_rows: int = Field(1000, ge=1, description="max applicants per bulk request (rows)")
    reasons_top_k: int = Field(
        4,
        ge=0,
        le=50,
        description="reason codes per explained applicant (declined, or ?explain=true); "
        "0 = never compute them",
    )
    max_body_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="max request body (bytes); larger → 413"
    )
    rate_limit: str = Field(
        "600/minute",
        description="per API key (else per client address) on /api/v1/*, shared by all "
        "scoring routes; limits syntax e.g. '600/minute', '20/second'; empty = off",
    )
    redis_url: str = Field(
        "",
        validation_alias=_alias("INFERENCE_REDIS_URL", "REDIS_URL", "redis_url"),
        description="rate-limit storage shared by replicas (redis://host:6379/0); empty = "
        "in-process memory (per replica)",
    )
    drift_window: int = Field(1000, ge=10, description="rows in the sliding PSI window (rows)")
    drift_threshold: float = Field(
        0.2, gt=0, description="PSI above which drift is flagged (unitless)"
    )
    drift_min_samples: int = Field(
        200, ge=1, description="rows in the window before the drift flag may turn on (rows)"
    )
    drift_flush_rows: int = Field(
        64,
        ge=1,
        description="rows buffered before the PSI window is updated (rows); "
        "every /metrics scrape also flushes",
    )
    admin_key_hash: str = Field(
        "",
        pattern=r"^([0-9a-fA-F]{64})?$",
        description="SHA-256 hex digest of the admin key for /api/v1/admin/*; empty = off",
    )
    reload_poll_seconds: float = Field(
        0.0, ge=0, description="poll the registry alias and reload on change (seconds; 0 = off)"
    )
    load_retry_seconds: float = Field(
        5.0, gt=0, description="retry interval while no model could be loaded (seconds)"
    )
    fault_error_rate: float = Field(
        0.0, ge=0, le=1, description="chaos: fraction of /api requests answered 500 (0-1)"
    )
    fault_latency_ms: float = Field(
        0.0, ge=0, description="chaos: latency added to every /api request (milliseconds)"
    )
    access_log: bool = Field(False, description="one JSON log line per request")
    access_log_probes: bool = Field(
        False, description="with access_log: also log /healthz, /readyz and /metrics requests"
    )
    gc_freeze: bool = Field(
        True,
        description="freeze the heap after each model swap, so the cyclic GC stops walking "
        "library objects (removes 100-200 ms pauses under load; process-wide)",
    )

    @field_validator("admin_key_hash")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("rate_limit")
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        return rate_limit_spec(value)

    @property
    def rate_limit_prefix(self) -> str:
        """The rate-limit namespace: a pod given a baseline (a shadow/canary pod receiving
        mirrored copies of requests another pod already counted) keeps its own budgets, so
        a mirrored copy never spends the client's shared budget a second time."""
        return "inference-paired" if self.baseline_model_uri else "inference"

    @property
    def faults_enabled(self) -> bool:
        return self.fault_error_rate > 0 or self.fault_latency_ms > 0


@lru_cache
def get_settings() -> InferenceSettings:
    """The process settings, read once from the environment (tests build their own)."""
    return InferenceSettings()
