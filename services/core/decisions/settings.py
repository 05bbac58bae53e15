"""Settings of the decision record (env prefix ``DECISIONS_``), shared by inference and
batch. Recording is off unless a DSN is set; ``docs/decisions.md`` lists every field."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.core.decisions.record import BatchLayout, InputsMode


class DecisionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DECISIONS_", extra="ignore")

    dsn: SecretStr = Field(
        SecretStr(""),
        description="PostgreSQL connection string (postgresql://user:pass@host:5432/db), "
        "from a Secret; empty = the decision record is off",
    )
    table: str = Field("decisions", pattern=r"^[a-z_][a-z0-9_]{0,40}$", description="table name")
    chunk_table: str = Field(
        "decision_chunks",
        pattern=r"^[a-z_][a-z0-9_]{0,40}$",
        description="table of batch decisions recorded per chunk (batch_layout=chunk)",
    )
    batch_layout: BatchLayout = Field(
        BatchLayout.CHUNK,
        description="how batch decisions are recorded: `chunk` (one row per scored chunk, "
        "its decisions in one compressed columnar document) or `row` (one row per decision, "
        "like online ones)",
    )
    inputs: InputsMode = Field(
        InputsMode.VALUES,
        description="what is kept of the applicant's inputs: `values` (the validated values, "
        "JSON) or `hash` (HMAC-SHA-256 of them under hash_salt)",
    )
    hash_salt: SecretStr = Field(
        SecretStr(""), description="secret salt of the inputs hash (required with inputs=hash)"
    )
    retention_days: int = Field(
        0, ge=0, description="drop day partitions older than this (days); 0 = keep all"
    )
    batch_rows: int = Field(500, ge=1, description="rows per database write (rows)")
    flush_seconds: float = Field(
        0.2, gt=0, description="longest a decision waits in memory before a write (seconds)"
    )
    queue_rows: int = Field(
        200_000,
        ge=1,
        description="decisions held in memory awaiting a write (rows); beyond it they go "
        "straight to the spool",
    )
    spool_dir: Path = Field(
        Path("/tmp/decision-spool"),
        description="directory of the on-disk spool used while PostgreSQL is unreachable "
        "(use a volume that survives the container)",
    )
    spool_max_bytes: int = Field(
        256 * 1024 * 1024,
        ge=1024,
        description="spool size bound (bytes); decisions that do not fit are counted in "
        "decisions_lost_total and logged",
    )
    retry_seconds: float = Field(
        2.0, gt=0, description="wait between reconnection attempts during an outage (seconds)"
    )
    connect_timeout_seconds: int = Field(
        3, ge=1, description="PostgreSQL connect timeout (seconds)"
    )
    shutdown_seconds: float = Field(
        20.0, gt=0, description="longest the final flush may take at shutdown (seconds)"
    )

    @property
    def enabled(self) -> bool:
        return bool(self.dsn.get_secret_value())

    @model_validator(mode="after")
    def _salted(self) -> DecisionSettings:
        if self.inputs is InputsMode.HASH and not self.hash_salt.get_secret_value():
            raise ValueError("DECISIONS_HASH_SALT is required with DECISIONS_INPUTS=hash")
        return self
