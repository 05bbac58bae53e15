"""JSON submission models generated from the served model's contract.

A row has the fields of the inference API's ``Applicant`` of the same contract, from the
same shared rules (``services.core.feature_fields``): numeric → strict finite number within
the contract range (and the float32 range the booster reads where the contract leaves a
side open); categorical → one of its levels; ``null`` or absent only where the contract
says the feature is nullable; a name that is no usable Python attribute keeps it as the
JSON alias.
Unlike an applicant, a row also takes extra columns holding a scalar (string, number,
boolean or null) — the way a CSV may carry more columns than the model reads; one of them
can be the id column. A JSON body is
exactly one of:

- ``SubmitRows``: ``rows`` (1 .. ``max_json_rows`` rows), optional ``id_column``;
- ``SubmitPath``: ``path`` of a file on shared storage, optional ``format`` and
  ``id_column``.

An ``id_column`` may not be a result column (``row``, ``probability``, …). That it must be a
column of the rows is the one rule JSON Schema cannot state (a value naming a key); the
document says it in words and the API answers 422.

The API validates JSON submissions with these very models, so the OpenAPI document
(``api.openapi``) and the API accept the same bodies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from services.batch import formats
from services.batch.domain import RESULT_COLUMNS
from services.core.contract import ModelContract
from services.core.errors import validation_details
from services.core.feature_fields import example, feature_fields

ROW, ROWS, PATH, JSON_BODY = "BatchRow", "SubmitRows", "SubmitPath", "SubmitJson"
Scalar = str | float | bool | None
ID_COLUMN_RULE = (
    f"input column copied into the results; not a result column ({', '.join(RESULT_COLUMNS)})"
)
NOT_A_RESULT_COLUMN: dict[str, Any] = {"not": {"enum": list(RESULT_COLUMNS)}}


class RowBase(BaseModel):
    """Contract features (added per contract) plus extra columns holding scalars."""

    model_config = ConfigDict(extra="allow", strict=True)
    __pydantic_extra__: dict[str, Scalar] = Field(init=False)  # type: ignore[assignment]


def _id_column(value: str | None) -> str | None:
    if value in RESULT_COLUMNS:
        raise ValueError(f"id column {value!r} clashes with a result column")
    return value


class SubmitPath(BaseModel):
    """A file already on shared storage (relative to ``storage_dir/inputs`` or one of
    ``input_dirs``)."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        title=PATH,
        json_schema_extra={"examples": [{"path": "book.parquet", "id_column": "loan_id"}]},
    )
    path: str = Field(description="file inside an allowed input folder")
    format: Literal[tuple(formats.names())] | None = Field(  # type: ignore[valid-type]
        None, description="format of the file at path (else its bytes decide)"
    )
    id_column: str | None = Field(
        None,
        description=f"{ID_COLUMN_RULE}; must be a column of the file",
        json_schema_extra=dict(NOT_A_RESULT_COLUMN),
    )
    _check_id = field_validator("id_column")(_id_column)


@dataclass(frozen=True)
class SubmitSchemas:
    """The JSON submission models of one contract."""

    row: type[BaseModel]
    rows: type[BaseModel]
    contract: ModelContract
    max_rows: int

    def components(self) -> dict[str, Any]:
        """OpenAPI components: the row, both bodies and ``SubmitJson`` (exactly one)."""
        ref = "#/components/schemas/{model}"
        out: dict[str, Any] = {}
        for model in (self.rows, SubmitPath):
            schema = model.model_json_schema(ref_template=ref)
            out.update(schema.pop("$defs", {}))
            out[model.__name__] = schema
        out[JSON_BODY] = {
            "title": JSON_BODY,
            "description": "exactly one of: rows to score, or a path on shared storage",
            "oneOf": [{"$ref": ref.format(model=ROWS)}, {"$ref": ref.format(model=PATH)}],
        }
        return out

    def validate(self, data: Any) -> BaseModel:
        """The body as ``SubmitRows`` or ``SubmitPath``; ``InvalidBody`` otherwise."""
        if not isinstance(data, dict):
            raise InvalidBody("the body must be a JSON object", [])
        has_rows, has_path = "rows" in data, "path" in data
        if has_rows == has_path:
            raise InvalidBody("give either rows or path", [])
        model = self.rows if has_rows else SubmitPath
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise InvalidBody(*_explain(exc)) from exc


class InvalidBody(ValueError):
    def __init__(self, message: str, details: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.message, self.details = message, details


def build_submit_schemas(contract: ModelContract, max_rows: int) -> SubmitSchemas:
    fields = feature_fields(contract)
    sample = example(contract)
    about = f"model {contract.model_name} (dataset {contract.dataset})"
    row = create_model(  # type: ignore[call-overload]
        ROW,
        __base__=RowBase,
        __doc__=f"One input row: the features of {about}, and any extra columns holding "
        "a scalar (ignored unless named as id_column).",
        **fields,
    )
    row.model_config.update({"title": ROW, "json_schema_extra": {"examples": [sample]}})
    row.model_rebuild(force=True)
    rows = create_model(  # type: ignore[call-overload]
        ROWS,
        __config__=ConfigDict(
            extra="forbid",
            strict=True,
            title=ROWS,
            json_schema_extra={
                "examples": [{"rows": [{**sample, "loan_id": "L1"}], "id_column": "loan_id"}]
            },
        ),
        __doc__=f"Up to {max_rows} rows scored as one job by {about}.",
        __validators__={"check_id": field_validator("id_column")(_id_column)},
        rows=(list[row], Field(min_length=1, max_length=max_rows)),
        id_column=(
            str | None,
            Field(
                None,
                description=f"{ID_COLUMN_RULE}; must be a column of the rows",
                json_schema_extra=dict(NOT_A_RESULT_COLUMN),
            ),
        ),
    )
    return SubmitSchemas(row, rows, contract, max_rows)


def _explain(exc: ValidationError) -> tuple[str, list[dict[str, Any]]]:
    """Row errors grouped as ``{column, message, rows, count}`` (1-based rows, like a
    file's); other errors as ``{loc, msg, type}``."""
    by_column: dict[tuple[str, str], list[int]] = defaultdict(list)
    rest: list[Any] = []
    for error in exc.errors():
        loc = error["loc"]
        if len(loc) >= 3 and loc[0] == "rows" and isinstance(loc[1], int):
            by_column[(str(loc[2]), error["msg"])].append(loc[1] + 1)
        else:
            rest.append(error)
    other = validation_details(rest)
    details: list[dict[str, Any]] = [
        {"column": column, "message": message, "rows": found[:20], "count": len(found)}
        for (column, message), found in by_column.items()
    ]
    parts = [
        f"{d['column']}: {d['message']} (rows {', '.join(map(str, d['rows']))})" for d in details
    ]
    parts += [f"{'.'.join(o['loc'])}: {o['msg']}" for o in other]
    return "request failed validation: " + "; ".join(parts), details + other
