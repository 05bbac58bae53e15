"""Request models generated from a model contract (``pydantic.create_model``).

Numeric feature → strict finite float bounded by the contract range (and by the float32
range the booster reads, when the contract leaves a side open); categorical → ``Literal``
of its levels; ``None`` accepted (and the field optional) only where the contract says the
feature is nullable; unknown fields are refused. Strict mode: ``"12"`` is not a number and
``true`` is not 1. JSON ``NaN``/``Infinity`` parse but fail the finite check → 422.

A feature whose name is not a usable Python attribute (``Annual Salary``, ``json``) gets a
safe attribute name and keeps its name as the JSON alias, so clients never see the change.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, create_model

from services.core.contract import FeatureSpec, ModelContract
from services.core.encoding import RecordEncoder

FLOAT32_MAX = float(np.finfo(np.float32).max)
APPLICANT = "Applicant"
BULK = "BulkRequest"


@dataclass(frozen=True)
class RequestSchemas:
    """The request models of one contract and the encoder that reads their instances."""

    applicant: type[BaseModel]
    bulk: type[BaseModel]
    encoder: RecordEncoder


def attribute_name(spec: FeatureSpec, index: int) -> str:
    name = spec.name
    usable = (
        name.isidentifier()
        and not keyword.iskeyword(name)
        and not name.startswith("_")
        and not name.startswith("model_")
        and not hasattr(BaseModel, name)
    )
    return name if usable else f"feature_{index}"


def _describe(spec: FeatureSpec) -> str:
    if spec.is_categorical:
        rule = f"one of {len(spec.levels or [])} levels"
    else:
        rule = f"number in [{_bound(spec.min, -FLOAT32_MAX):g}, {_bound(spec.max, FLOAT32_MAX):g}]"
    missing = "; null or absent = missing" if spec.nullable else ""
    return f"{spec.description + ': ' if spec.description else ''}{rule}{missing}"


def _bound(value: float | None, default: float) -> float:
    return default if value is None else value


def _field(spec: FeatureSpec, index: int) -> tuple[Any, Any]:
    kind: Any
    if spec.is_categorical:
        kind = Literal[tuple(spec.levels or [])]
    else:
        kind = Annotated[
            float,
            Field(
                strict=True,
                allow_inf_nan=False,
                ge=_bound(spec.min, -FLOAT32_MAX),
                le=_bound(spec.max, FLOAT32_MAX),
            ),
        ]
    alias = spec.name if attribute_name(spec, index) != spec.name else None
    default = None if spec.nullable else ...
    info = Field(default, alias=alias, title=spec.name, description=_describe(spec))
    return (kind | None if spec.nullable else kind), info


def example(contract: ModelContract) -> dict[str, Any]:
    """A typical applicant: the training median of each numeric, the first level otherwise."""
    out: dict[str, Any] = {}
    for spec in contract.features:
        if spec.is_categorical:
            out[spec.name] = (spec.levels or [""])[0]
            continue
        edges = contract.reference[spec.name].edges
        value = edges[len(edges) // 2] if edges else (spec.min or 0.0)
        value = min(max(value, _bound(spec.min, -FLOAT32_MAX)), _bound(spec.max, FLOAT32_MAX))
        out[spec.name] = round(value) if spec.integer else round(value, 4)
    return out


def build_schemas(contract: ModelContract, max_rows: int) -> RequestSchemas:
    features = contract.features
    fields = {attribute_name(s, j): _field(s, j) for j, s in enumerate(features)}
    sample = example(contract)
    about = f"model {contract.model_name} (dataset {contract.dataset})"
    applicant = create_model(  # type: ignore[call-overload]
        APPLICANT,
        __config__=ConfigDict(
            extra="forbid", strict=True, title=APPLICANT, json_schema_extra={"examples": [sample]}
        ),
        __doc__=f"One applicant's features, as the contract of {about} defines them.",
        **fields,
    )
    bulk = create_model(  # type: ignore[call-overload]
        BULK,
        __config__=ConfigDict(
            extra="forbid",
            strict=True,
            title=BULK,
            json_schema_extra={"examples": [{"applicants": [sample]}]},
        ),
        __doc__=f"Up to {max_rows} applicants scored in one call by {about}.",
        applicants=(list[applicant], Field(min_length=1, max_length=max_rows)),
    )
    keys = [attribute_name(s, j) for j, s in enumerate(features)]
    return RequestSchemas(applicant, bulk, RecordEncoder(features, keys))
