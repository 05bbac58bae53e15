"""Response bodies (static: they do not depend on the served model's contract)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from services.core.web.responses import ErrorDocs
from services.inference.settings import Track


class ModelRef(BaseModel):
    name: str = Field(description="registered model name")
    version: str = Field(description="registered version ('local' for a folder)")
    track: Track = Field(description="stable or canary: which rollout track answered")


class ReasonCode(BaseModel):
    """A feature that pushed the score toward default (``services.core.reasons.Reason``)."""

    feature: str = Field(description="feature name, as in the contract")
    value: float | str | None = Field(description="the value as sent (null: missing)")
    contribution: float = Field(
        gt=0, description="exact TreeSHAP contribution to the margin (log-odds); > 0"
    )
    statement: str = Field(description="the reason statement from the model contract")


class Score(BaseModel):
    prediction: int = Field(
        ge=0, le=1, description="1 = predicted default (probability ≥ threshold)"
    )
    probability: float = Field(ge=0, le=1, description="calibrated probability of default")
    risk_band: str = Field(description="risk band of the probability (contract cut-offs)")
    reasons: list[ReasonCode] | SkipJsonSchema[None] = Field(
        None,
        description="present when the applicant is declined (prediction 1) or with "
        "?explain=true: up to INFERENCE_REASONS_TOP_K features that pushed the score "
        "toward default, largest contribution first (fewer if fewer raised it)",
    )


class PredictResponse(Score):
    request_id: str
    model: ModelRef


class BulkResponse(BaseModel):
    request_id: str
    model: ModelRef
    count: int = Field(description="number of applicants scored")
    predictions: list[Score] = Field(description="one score per applicant, in request order")


class FeatureInfo(BaseModel):
    name: str
    type: str
    nullable: bool
    min: float | None = None
    max: float | None = None
    levels: list[str] | None = None


class ReloadStatus(BaseModel):
    ok: bool = Field(description="the last reload attempt succeeded (or changed nothing)")
    at: str = Field(description="when it finished (UTC, ISO 8601)")
    uri: str
    version: str | None = None
    message: str = ""


class DriftInfo(BaseModel):
    samples: int = Field(description="rows in the sliding window")
    score_psi: float
    feature_psi: dict[str, float]
    detected: bool = Field(description="a PSI is above the threshold with enough samples")


class BaselineInfo(BaseModel):
    uri: str = Field(description="the baseline the pod was given (BASELINE_MODEL_URI)")
    version: str | None = Field(None, description="its loaded version (None: not loaded)")
    paired: bool = Field(description="the served model's applicants are also scored by it")
    status: str = Field(description="why it is (not) paired: loading, refused, paired with")


class ModelInfo(BaseModel):
    model: ModelRef
    uri: str = Field(description="the URI the service was asked to serve (MODEL_URI)")
    dataset: str
    threshold: float
    risk_bands: list[dict[str, Any]]
    features: list[FeatureInfo]
    metrics: dict[str, float] = Field(description="training/holdout metrics from the contract")
    data_fingerprint: str
    loaded_at: str = Field(description="when this version started serving (UTC, ISO 8601)")
    last_reload: ReloadStatus | None = None
    drift: DriftInfo
    baseline: BaselineInfo | None = Field(
        None, description="paired scoring (None: no baseline configured)"
    )


class Health(BaseModel):
    status: str
    model: ModelRef | None = None
    reason: str | None = None


ERROR_MEANINGS = {
    401: "missing key",
    403: "wrong key (or admin API disabled)",
    409: "reload refused",
    413: "body too large",
    415: "body is not JSON",
    422: "validation failed, one detail per field",
    429: "rate limit exceeded (see Retry-After)",
    503: "no model loaded yet",
}

error_responses = ErrorDocs(ERROR_MEANINGS)  # OpenAPI ``responses`` of a route's errors
