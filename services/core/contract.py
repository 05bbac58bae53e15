"""The model contract: everything a served model promises about its inputs and outputs.

A contract travels with every model version (as ``contract.json`` next to the booster).
Inference builds its request schema from it, batch validates files against it, drift
detection compares live traffic with its reference histograms, and the rollout controller
refuses a candidate whose contract is incompatible with the stable model's.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, model_validator

from services.core.statements import ReasonStatements, check, complete, keyed

CONTRACT_FILE = "contract.json"
SCHEMA_VERSION = 1

if TYPE_CHECKING:  # numpy is imported where a margin is calibrated: the controller has none
    import numpy as np


class FeatureType(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


class FeatureSpec(BaseModel):
    """One input feature: its type, allowed values and nullability."""

    name: str
    type: FeatureType
    description: str = ""
    min: float | None = None  # inclusive lower bound (numeric only)
    max: float | None = None  # inclusive upper bound (numeric only)
    integer: bool = False  # numeric values are whole numbers (used by the generator)
    levels: list[str] | None = None  # allowed levels, in model code order (categorical)
    nullable: bool = False  # a missing value is allowed (XGBoost handles it natively)
    reason: ReasonStatements | None = None  # adverse-action statements (None: generated)

    @model_validator(mode="after")
    def _check(self) -> FeatureSpec:
        if self.type is FeatureType.CATEGORICAL:
            if not self.levels:
                raise ValueError(f"categorical feature {self.name!r} needs levels")
            if len(set(self.levels)) != len(self.levels):
                raise ValueError(f"feature {self.name!r} has duplicate levels")
        elif self.levels:
            raise ValueError(f"numeric feature {self.name!r} cannot have levels")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"feature {self.name!r}: min > max")
        if self.reason is not None:
            check(self.name, self.reason, self.levels if self.is_categorical else None)
        return self

    @property
    def is_categorical(self) -> bool:
        return self.type is FeatureType.CATEGORICAL

    def statements(self) -> ReasonStatements:
        """Every reason statement of this feature: configured ones, the rest generated."""
        return complete(self.name, self.reason, self.levels if self.is_categorical else None)

    def with_statements(self) -> FeatureSpec:
        """This spec with its statements completed (what the trainer writes to a contract)."""
        return self.model_copy(update={"reason": self.statements()})


class Histogram(BaseModel):
    """A training reference distribution, as PSI compares it.

    Bins, in order: for a numeric feature ``len(edges) + 1`` intervals cut at ``edges``
    (a value equal to an edge goes to the upper bin); for a categorical feature one bin
    per level then one "unseen level" bin. Both end with one "missing value" bin.
    """

    kind: Literal["numeric", "categorical"]
    edges: list[float] = Field(default_factory=list)
    levels: list[str] = Field(default_factory=list)
    proportions: list[float]

    @property
    def n_bins(self) -> int:
        inner = len(self.edges) + 1 if self.kind == "numeric" else len(self.levels) + 1
        return inner + 1

    @model_validator(mode="after")
    def _check(self) -> Histogram:
        if len(self.proportions) != self.n_bins:
            raise ValueError(
                f"histogram has {len(self.proportions)} proportions, needs {self.n_bins}"
            )
        if self.edges != sorted(self.edges):
            raise ValueError("histogram edges must be ascending")
        return self


class Calibration(BaseModel):
    """Platt scaling of the booster margin: p = 1 / (1 + exp(-(a * margin + b)))."""

    method: Literal["platt", "none"] = "platt"
    a: float = 1.0
    b: float = 0.0

    def apply(self, margin: np.ndarray) -> np.ndarray:
        import numpy as np

        z = margin if self.method == "none" else self.a * margin + self.b
        return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


class RiskBand(BaseModel):
    """Probabilities below ``upper`` (and at or above the previous band's) fall in ``name``."""

    name: str
    upper: float


class ModelContract(BaseModel):
    schema_version: int = SCHEMA_VERSION
    model_name: str
    dataset: str
    target: str
    positive_label: str
    features: list[FeatureSpec]
    threshold: float = Field(ge=0.0, le=1.0)
    risk_bands: list[RiskBand]
    calibration: Calibration = Field(default_factory=Calibration)
    reference: dict[str, Histogram]
    score_reference: Histogram
    metrics: dict[str, float] = Field(default_factory=dict)
    data_fingerprint: str = ""
    xgboost_version: str = ""
    created_at: str = ""

    @model_validator(mode="after")
    def _check(self) -> ModelContract:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("duplicate feature names in contract")
        missing = set(names) - set(self.reference)
        if missing:
            raise ValueError(f"no reference histogram for {sorted(missing)}")
        uppers = [b.upper for b in self.risk_bands]
        if not uppers or uppers != sorted(uppers) or uppers[-1] < 1.0:
            raise ValueError("risk bands must ascend and the last must reach 1.0")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> FeatureSpec:
        for spec in self.features:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def save(self, path: Path) -> Path:
        path.write_text(self.model_dump_json(indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> ModelContract:
        return cls.model_validate(json.loads(path.read_text()))


def compatibility_issues(stable: ModelContract, candidate: ModelContract) -> list[str]:
    """Why ``candidate`` cannot replace ``stable`` for the same clients (empty: compatible).

    A client built for the stable model must keep working: every stable feature must still
    exist with the same type, and a categorical feature must still accept every stable
    level. New optional (nullable) features are fine; a new required feature is not.
    Adverse-action notices must keep their wording: a reason statement of the stable
    model that the candidate drops or words differently is a breaking change too
    (statements are compared completed, so a generated default equals itself).
    """
    issues: list[str] = []
    cand = {f.name: f for f in candidate.features}
    stable_names = set(stable.feature_names)
    for old in stable.features:
        new = cand.get(old.name)
        if new is None:
            issues.append(f"feature {old.name!r} removed")
        elif new.type != old.type:
            issues.append(f"feature {old.name!r} retyped {old.type.value} -> {new.type.value}")
        elif old.is_categorical:
            lost = sorted(set(old.levels or []) - set(new.levels or []))
            if lost:
                issues.append(f"feature {old.name!r} lost levels {lost}")
        if new is not None and new.type == old.type:
            issues.extend(statement_issues(old, new))
    for new in candidate.features:
        if new.name not in stable_names and not new.nullable:
            issues.append(f"new required feature {new.name!r}")
    return issues


def statement_issues(old: FeatureSpec, new: FeatureSpec) -> list[str]:
    """Reason statements of ``old`` that ``new`` removes or words differently."""
    before, after = keyed(old.statements()), keyed(new.statements())
    issues = []
    for key, text in before.items():
        if key.startswith("level:") and key[6:] not in (new.levels or []):
            continue  # a lost level is reported as such
        if key not in after:
            issues.append(f"feature {old.name!r} lost reason statement {key!r}")
        elif after[key] != text:
            issues.append(
                f"feature {old.name!r} reason statement {key!r} changed: {text!r} -> {after[key]!r}"
            )
    return issues
