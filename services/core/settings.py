"""Settings shared by every service (pydantic-settings; environment variables).

Each service has one settings class with its own env prefix (``INFERENCE_``, ``BATCH_``,
``TRAINER_``, ``CONTROLLER_``) that extends ``ServiceSettings``. A few well-known names
are also read without prefix: ``MODEL_URI``, ``MLFLOW_TRACKING_URI``, ``REDIS_URL``.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.core.paths import REPO_ROOT

DEFAULT_TRACKING_URI = f"sqlite:///{REPO_ROOT / '.mlflow' / 'mlflow.db'}"
DEFAULT_ARTIFACT_ROOT = REPO_ROOT / ".mlflow" / "artifacts"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "test"}


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


def env_field(default: object, *names: str, description: str) -> object:
    """A field readable from the prefixed name and from each of ``names``."""
    return Field(default, validation_alias=AliasChoices(*names), description=description)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: Environment = Field(
        Environment.DEVELOPMENT, description="development or production (refuses unsafe defaults)"
    )
    log_level: str = Field(
        "INFO",
        description="level of every logger of the process (ours, uvicorn, rq, kopf, MLflow): "
        "DEBUG, INFO, WARNING, ERROR",
    )
    log_json: bool = Field(
        True,
        description="one compact JSON object per log line on stderr (time, level, logger, "
        "message, request_id, the event's fields; see docs/operations.md); false: short "
        "human-readable lines",
    )
    mlflow_tracking_uri: str = Field(
        DEFAULT_TRACKING_URI,
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "mlflow_tracking_uri"),
        description="MLflow tracking/registry URI (default: sqlite store under .mlflow/)",
    )

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION


def key_digests(value: list[str]) -> list[str]:
    """Normalised SHA-256 hex digests. A blank or malformed entry is an error, never "no
    key": '[""]' used to pass the production check and then be dropped, serving keyless
    requests as anonymous."""
    digests = [item.strip().lower() for item in value]
    bad = [i for i, d in enumerate(digests) if not _SHA256_HEX.fullmatch(d)]
    if bad:
        raise ValueError(
            f"API key digests must be 64 hex characters (SHA-256); entries {bad} are not"
        )
    return digests


def rate_limit_spec(value: str) -> str:
    """A rate limit in limits syntax (``"10/second;300/minute"``), checked at start-up so a
    typo stops the service instead of turning the limit off; empty = off."""
    value = value.strip()
    if value:
        from limits import parse_many  # only when a limit is set (start-up time)

        parse_many(value)  # raises ValueError on bad syntax
    return value


class KeyedServiceSettings(ServiceSettings):
    """Settings of a service that takes API keys (inference, batch)."""

    api_key_hashes: list[str] = Field(
        default_factory=list,
        description="SHA-256 hex digests of accepted X-API-Key values; empty = auth off (dev only)",
    )

    @field_validator("api_key_hashes")
    @classmethod
    def _digests_only(cls, value: list[str]) -> list[str]:
        return key_digests(value)

    @model_validator(mode="after")
    def _refuse_open_production(self) -> KeyedServiceSettings:
        if self.is_production and not self.api_key_hashes:
            raise ValueError("production refuses to run without API keys (set *_API_KEY_HASHES)")
        return self


def artifact_root() -> Path:
    DEFAULT_ARTIFACT_ROOT.mkdir(parents=True, exist_ok=True)
    return DEFAULT_ARTIFACT_ROOT
