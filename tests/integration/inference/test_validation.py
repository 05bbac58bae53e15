"""The validation matrix over HTTP: every bad input is a 422 naming the field, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.inference.harness import AUTH, Service, make_settings, running
from tests.support.models import TrainedModel

pytestmark = pytest.mark.integration

OK = '"student": "No", "income": 30000'


@pytest.fixture
async def service(default_model: TrainedModel) -> AsyncIterator[Service]:
    async with running(make_settings(default_model)) as svc:
        yield svc


@pytest.mark.parametrize(
    ("raw", "loc", "kind"),
    [
        (f'{{{OK}, "balance": NaN}}', ["body", "balance"], "finite_number"),
        (f'{{{OK}, "balance": Infinity}}', ["body", "balance"], "finite_number"),
        (f'{{{OK}, "balance": -Infinity}}', ["body", "balance"], "finite_number"),
        (f'{{{OK}, "balance": 1e400}}', ["body", "balance"], "finite_number"),
        (f'{{{OK}, "balance": -0.01}}', ["body", "balance"], "greater_than_equal"),
        (f'{{{OK}, "balance": 1e9}}', ["body", "balance"], "less_than_equal"),
        (f'{{{OK}, "balance": "1500"}}', ["body", "balance"], "float_type"),
        (f'{{{OK}, "balance": false}}', ["body", "balance"], "float_type"),
        (f'{{{OK}, "balance": [1]}}', ["body", "balance"], "float_type"),
        (f'{{{OK}, "balance": null}}', ["body", "balance"], "float_type"),
        (f"{{{OK}}}", ["body", "balance"], "missing"),
        (f'{{{OK}, "balance": 1, "age": 30}}', ["body", "age"], "extra_forbidden"),
        ('{"student": "Unknown", "income": 1, "balance": 1}', ["body", "student"], "literal_error"),
        ('{"student": null, "income": 1, "balance": 1}', ["body", "student"], "literal_error"),
        ('{"student": true, "income": 1, "balance": 1}', ["body", "student"], "literal_error"),
        ("[]", ["body"], "model_type"),
        ('"text"', ["body"], "model_type"),
        ("{", ["body"], "json_invalid"),
        ("", ["body"], "json_invalid"),
        ('{"student": "No", "income": 1, "balance": 1}{}', ["body"], "json_invalid"),
    ],
)
async def test_bad_input_is_422_with_the_field(
    service: Service, raw: str, loc: list[str], kind: str
) -> None:
    response = await service.client.post(
        "/api/v1/predict",
        content=raw.encode(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert {"loc": loc, "type": kind} in [
        {"loc": d["loc"], "type": d["type"]} for d in error["details"]
    ]
    assert all(d["msg"] for d in error["details"])


async def test_many_bad_rows_are_reported_briefly(service: Service) -> None:
    rows = [{"student": "?", "balance": -1, "income": -1}] * 40
    response = await service.bulk(rows)
    error = response.json()["error"]
    assert response.status_code == 422
    assert error["message"].startswith("120 validation error(s)")
    assert len(error["details"]) == 50


async def test_integer_json_numbers_are_numbers(service: Service) -> None:
    response = await service.predict({"student": "Yes", "balance": 0, "income": 10000000})
    assert response.status_code == 200
