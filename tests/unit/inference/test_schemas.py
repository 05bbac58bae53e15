"""Request models generated from contracts: the validation matrix, nullability, aliases."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from services.core.contract import ModelContract
from services.core.datasets import load_config
from services.core.feature_fields import FLOAT32_MAX, attribute_name, example
from services.inference.schemas import build_schemas
from tests.unit.inference.conftest import categorical, dataset_contract, make_contract, numeric

pytestmark = pytest.mark.unit

VALID = '{"student": "No", "balance": 800.5, "income": 40000}'


def errors(model: Any, body: str) -> list[tuple[tuple[str, ...], str]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate_json(body)
    return [(tuple(map(str, e["loc"])), e["type"]) for e in info.value.errors()]


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ('{"student": "No", "balance": NaN, "income": 1}', ("balance",), "finite_number"),
        ('{"student": "No", "balance": Infinity, "income": 1}', ("balance",), "finite_number"),
        ('{"student": "No", "balance": -Infinity, "income": 1}', ("balance",), "finite_number"),
        ('{"student": "No", "balance": 1e999, "income": 1}', ("balance",), "finite_number"),
        ('{"student": "No", "balance": -1, "income": 1}', ("balance",), "greater_than_equal"),
        ('{"student": "No", "balance": 100001, "income": 1}', ("balance",), "less_than_equal"),
        ('{"student": "Maybe", "balance": 1, "income": 1}', ("student",), "literal_error"),
        ('{"student": "no", "balance": 1, "income": 1}', ("student",), "literal_error"),
        ('{"student": "No", "balance": "12", "income": 1}', ("balance",), "float_type"),
        ('{"student": "No", "balance": true, "income": 1}', ("balance",), "float_type"),
        ('{"student": 1, "balance": 1, "income": 1}', ("student",), "literal_error"),
        ('{"student": null, "balance": 1, "income": 1}', ("student",), "literal_error"),
        ('{"student": "No", "balance": null, "income": 1}', ("balance",), "float_type"),
        ('{"student": "No", "income": 1}', ("balance",), "missing"),
        ('{"student": "No", "balance": 1, "income": 1, "age": 3}', ("age",), "extra_forbidden"),
        ('[{"student": "No"}]', (), "model_type"),
        ("not json", (), "json_invalid"),
    ],
)
def test_every_bad_value_is_a_field_level_error(
    default_contract: ModelContract, body: str, loc: tuple[str, ...], kind: str
) -> None:
    model = build_schemas(default_contract, 10).applicant
    assert (loc, kind) in errors(model, body)


def test_a_valid_applicant_passes_and_encodes(default_contract: ModelContract) -> None:
    schemas = build_schemas(default_contract, 10)
    applicant = schemas.applicant.model_validate_json(VALID)
    encoded = schemas.encoder.encode([applicant.__dict__])
    assert encoded.dtype == np.float32
    assert encoded.tolist() == [[0.0, 800.5, 40000.0]]  # contract order, "No" = level 0


def test_several_errors_are_reported_at_once(default_contract: ModelContract) -> None:
    found = errors(
        build_schemas(default_contract, 10).applicant, '{"student": "x", "balance": NaN, "zzz": 1}'
    )
    assert {loc for loc, _ in found} == {("student",), ("balance",), ("income",), ("zzz",)}


def test_null_and_absence_are_accepted_exactly_where_nullable() -> None:
    contract = dataset_contract("credit_data")
    schemas = build_schemas(contract, 10)
    row = example(contract)
    row.update(Income=None, Home=None)
    del row["Assets"]
    applicant = schemas.applicant.model_validate_json(json.dumps(row))
    encoded = schemas.encoder.encode([applicant.__dict__])[0]
    names = contract.feature_names
    for name in ("Income", "Home", "Assets"):
        assert math.isnan(encoded[names.index(name)])
    row["Seniority"] = None  # not nullable
    assert (("Seniority",), "float_type") in errors(schemas.applicant, json.dumps(row))
    row["Seniority"], row["Records"] = 3, None  # categorical, not nullable
    assert (("Records",), "literal_error") in errors(schemas.applicant, json.dumps(row))


@pytest.mark.parametrize("dataset", ["default", "lending_club", "credit_data"])
def test_json_schema_follows_the_contract(dataset: str) -> None:
    contract = dataset_contract(dataset)
    schema = build_schemas(contract, 1000).applicant.model_json_schema()
    features = load_config(dataset).features
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {f.name for f in features if not f.nullable}
    for spec in features:
        prop = schema["properties"][spec.name]
        options = prop.get("anyOf", [prop])
        if spec.is_categorical:
            assert options[0]["enum"] == spec.levels
        else:
            assert options[0]["type"] == "number"
            assert options[0]["minimum"] == spec.min
        assert ({"type": "null"} in options) is spec.nullable
    build_schemas(contract, 1000).applicant.model_validate(example(contract))


def test_awkward_feature_names_keep_their_json_names() -> None:
    features = [
        numeric("Annual Salary", min=0),
        numeric("json"),
        numeric("model_type"),
        categorical("class", ["a", "b"]),
        numeric("_x"),
    ]
    contract = make_contract(features)
    names = [attribute_name(f, j) for j, f in enumerate(features)]
    assert names == ["feature_0", "feature_1", "feature_2", "feature_3", "feature_4"]
    schemas = build_schemas(contract, 10)
    body = {"Annual Salary": 5, "json": 1, "model_type": 2, "class": "b", "_x": 3}
    applicant = schemas.applicant.model_validate_json(json.dumps(body))
    assert schemas.encoder.encode([applicant.__dict__]).tolist() == [[5, 1, 2, 1, 3]]
    assert set(schemas.applicant.model_json_schema()["properties"]) == set(body)
    renamed = {"feature_0": 5, "json": 1, "model_type": 2, "class": "b", "_x": 3}
    assert (("feature_0",), "extra_forbidden") in errors(schemas.applicant, json.dumps(renamed))


def test_open_ranges_are_bounded_by_float32() -> None:
    schemas = build_schemas(make_contract([numeric("x")]), 10)
    schemas.applicant.model_validate_json('{"x": -1e30}')
    assert (("x",), "less_than_equal") in errors(schemas.applicant, '{"x": 1e39}')
    assert schemas.applicant.model_json_schema()["properties"]["x"]["maximum"] == FLOAT32_MAX


def test_bulk_size_is_bounded(default_contract: ModelContract) -> None:
    bulk = build_schemas(default_contract, 3).bulk
    row = json.loads(VALID)
    bulk.model_validate_json(json.dumps({"applicants": [row] * 3}))
    assert ((("applicants",), "too_long")) in errors(bulk, json.dumps({"applicants": [row] * 4}))
    assert ((("applicants",), "too_short")) in errors(bulk, json.dumps({"applicants": []}))
    bad = json.dumps({"applicants": [row, {**row, "balance": -5}]})
    assert (("applicants", "1", "balance"), "greater_than_equal") in errors(bulk, bad)


def test_many_rows_encode_like_few_rows() -> None:
    contract = dataset_contract("credit_data")
    encoder = build_schemas(contract, 100).encoder
    rows = [example(contract) for _ in range(40)]
    for i, row in enumerate(rows):
        row["Income"] = None if i % 3 == 0 else float(i)
        row["Home"] = None if i % 4 == 0 else ["rent", "owner", "zzz"][i % 3]
    one_by_one = np.vstack([encoder.encode([row]) for row in rows])
    np.testing.assert_array_equal(encoder.encode(rows), one_by_one)  # column-wise path
    assert np.isnan(one_by_one[0, contract.feature_names.index("Income")])
    assert -1.0 in one_by_one[:, contract.feature_names.index("Home")]
