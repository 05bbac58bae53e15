"""Pydantic fields of a contract's features: the one set of request rules both APIs use.

Numeric feature → strict finite float bounded by the contract range (and by the float32
range the booster reads, when the contract leaves a side open); categorical → ``Literal``
of its levels; ``None`` accepted (and the field optional) only where the contract says the
feature is nullable. Strict mode: ``"12"`` is not a number and ``true`` is not 1. JSON
``NaN``/``Infinity`` parse but fail the finite check.

A feature whose name is not a usable Python attribute (``Annual Salary``, ``json``) gets a
safe attribute name and keeps its name as the JSON alias, so clients never see the change.
Inference's ``Applicant`` and batch's ``BatchRow`` are built from these fields.
"""

from __future__ import annotations

import keyword
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from services.core.contract import FeatureSpec, ModelContract

FLOAT32_MAX = float(np.finfo(np.float32).max)


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


def bounds(spec: FeatureSpec) -> tuple[float, float]:
    """The numeric range a request may carry: the contract's, else float32's."""
    low = -FLOAT32_MAX if spec.min is None else spec.min
    high = FLOAT32_MAX if spec.max is None else spec.max
    return low, high


def describe(spec: FeatureSpec) -> str:
    if spec.is_categorical:
        rule = f"one of {len(spec.levels or [])} levels"
    else:
        low, high = bounds(spec)
        rule = f"number in [{low:g}, {high:g}]"
    missing = "; null or absent = missing" if spec.nullable else ""
    return f"{spec.description + ': ' if spec.description else ''}{rule}{missing}"


def feature_field(spec: FeatureSpec, index: int) -> tuple[Any, Any]:
    """``(annotation, FieldInfo)`` of one feature, for ``pydantic.create_model``."""
    kind: Any
    if spec.is_categorical:
        kind = Literal[tuple(spec.levels or [])]
    else:
        low, high = bounds(spec)
        kind = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=low, le=high)]
    alias = spec.name if attribute_name(spec, index) != spec.name else None
    default = None if spec.nullable else ...
    info = Field(default, alias=alias, title=spec.name, description=describe(spec))
    return (kind | None if spec.nullable else kind), info


def feature_fields(contract: ModelContract) -> dict[str, tuple[Any, Any]]:
    """Every feature's field, keyed by its attribute name."""
    return {attribute_name(s, j): feature_field(s, j) for j, s in enumerate(contract.features)}


def example(contract: ModelContract) -> dict[str, Any]:
    """A typical applicant: the training median of each numeric, the first level otherwise."""
    out: dict[str, Any] = {}
    for spec in contract.features:
        if spec.is_categorical:
            out[spec.name] = (spec.levels or [""])[0]
            continue
        edges = contract.reference[spec.name].edges
        low, high = bounds(spec)
        value = edges[len(edges) // 2] if edges else (spec.min or 0.0)
        value = min(max(value, low), high)
        out[spec.name] = round(value) if spec.integer else round(value, 4)
    return out
