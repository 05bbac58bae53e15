"""JSON submission models generated from a contract: what they accept is what the API
accepts, and what they refuse comes back naming columns and rows."""

from __future__ import annotations

from typing import Any

import pytest

from services.batch.api.schemas import InvalidBody, SubmitPath, build_submit_schemas
from services.inference.schemas import build_schemas
from tests.unit.inference.conftest import categorical, dataset_contract, make_contract, numeric

pytestmark = pytest.mark.unit


def _refused(body: Any) -> InvalidBody:
    schemas = build_submit_schemas(dataset_contract("default"), 3)
    with pytest.raises(InvalidBody) as caught:
        schemas.validate(body)
    return caught.value


def test_rows_keep_awkward_names_extra_scalars_and_fill_absent_nullables() -> None:
    contract = make_contract(
        [
            numeric("Annual Salary", min=0.0),
            categorical("json", ["a", "b"]),
            numeric("bonus", nullable=True),
        ]
    )
    schemas = build_submit_schemas(contract, 10)
    row = {"Annual Salary": 10, "json": "b", "loan_id": "L1", "flag": True}
    body = schemas.validate({"rows": [row], "id_column": "loan_id"})
    dumped = body.model_dump(by_alias=True)
    assert dumped["rows"] == [{**row, "Annual Salary": 10.0, "bonus": None}]
    assert dumped["id_column"] == "loan_id"
    properties = schemas.components()["BatchRow"]["properties"]
    assert list(properties) == ["Annual Salary", "json", "bonus"]


def test_a_path_body_is_the_other_choice() -> None:
    schemas = build_submit_schemas(dataset_contract("default"), 3)
    body = schemas.validate({"path": "book.csv", "format": "csv"})
    assert isinstance(body, SubmitPath)
    assert (body.path, body.format) == ("book.csv", "csv")
    assert schemas.components()["SubmitJson"]["oneOf"] == [
        {"$ref": "#/components/schemas/SubmitRows"},
        {"$ref": "#/components/schemas/SubmitPath"},
    ]


def test_bad_rows_are_reported_by_column_and_row() -> None:
    good = {"student": "No", "balance": 1.0, "income": 2.0}
    error = _refused(
        {"rows": [good, {**good, "balance": "1"}, {**good, "balance": True, "income": -5}]}
    )
    found = {(d["column"], tuple(d["rows"])) for d in error.details}
    assert found == {("balance", (2, 3)), ("income", (3,))}  # one message: rows together
    assert "balance" in error.message


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ([], "must be a JSON object"),
        ({}, "either rows or path"),
        ({"rows": [], "path": "x"}, "either rows or path"),
        ({"rows": []}, "at least 1 item"),
        ({"rows": [{"student": "No", "balance": 1.0, "income": 2.0}] * 4}, "at most 3 items"),
        ({"path": "x", "format": "xlsx"}, "format"),
        ({"path": "x", "id_column": "probability"}, "clashes with a result column"),
        ({"path": "x", "colour": "red"}, "colour"),
        ({"rows": [{"student": "No", "balance": 1.0, "income": 2.0, "x": [1]}]}, "x:"),
    ],
)
def test_bodies_outside_the_document_are_refused(body: Any, needle: str) -> None:
    assert needle in _refused(body).message


@pytest.mark.parametrize("dataset", ["default", "lending_club", "credit_data"])
def test_a_row_has_exactly_the_fields_of_the_inference_applicant(dataset: str) -> None:
    """Both APIs build their fields from services.core.feature_fields: a batch row and an
    inference applicant of one contract accept the same features."""
    contract = dataset_contract(dataset)
    applicant = build_schemas(contract, 5).applicant.model_json_schema()
    row = build_submit_schemas(contract, 5).row.model_json_schema()
    assert row["properties"] == applicant["properties"]
    assert row.get("required") == applicant.get("required")
