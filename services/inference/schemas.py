"""Request models generated from a model contract (``pydantic.create_model``): one
applicant, and a bulk request of up to N of them. Each feature's field follows the shared
rules of ``services.core.feature_fields`` (strict, finite, within range, levels, nullable);
unknown fields are refused, and JSON ``NaN``/``Infinity`` → 422.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, create_model

from services.core.contract import ModelContract
from services.core.encoding import RecordEncoder
from services.core.feature_fields import attribute_name, example, feature_fields

APPLICANT = "Applicant"
BULK = "BulkRequest"


@dataclass(frozen=True)
class RequestSchemas:
    """The request models of one contract and the encoder that reads their instances."""

    applicant: type[BaseModel]
    bulk: type[BaseModel]
    encoder: RecordEncoder


def build_schemas(contract: ModelContract, max_rows: int) -> RequestSchemas:
    features = contract.features
    fields = feature_fields(contract)
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
