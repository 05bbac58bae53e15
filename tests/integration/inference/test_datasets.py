"""All three bundled datasets are served with no code change: schema, scoring, nulls."""

from __future__ import annotations

import pytest

from services.core.datasets import load_config
from tests.integration.inference.harness import AUTH, applicants, make_settings, running
from tests.support.models import TrainedModel

pytestmark = pytest.mark.integration

DATASETS = [
    ("default", "default_model"),
    ("lending_club", "lending_club_model"),
    ("credit_data", "credit_data_model"),
]


@pytest.mark.parametrize(("dataset", "fixture"), DATASETS)
async def test_each_dataset_is_documented_validated_and_scored(
    dataset: str, fixture: str, request: pytest.FixtureRequest
) -> None:
    trained: TrainedModel = request.getfixturevalue(fixture)
    features = load_config(dataset).features
    async with running(make_settings(trained)) as svc:
        spec = (await svc.client.get("/openapi.json")).json()
        applicant = spec["components"]["schemas"]["Applicant"]
        assert list(applicant["properties"]) == [f.name for f in features]
        assert set(applicant["required"]) == {f.name for f in features if not f.nullable}
        rows = applicants(dataset, 200, seed=11)
        bulk = await svc.bulk(rows)
        assert bulk.status_code == 200, bulk.text
        assert bulk.json()["count"] == 200
        assert bulk.json()["model"]["name"] == f"{dataset}-model"
        single = await svc.predict(rows[0])
        assert single.status_code == 200
        assert single.json()["probability"] == bulk.json()["predictions"][0]["probability"]
        categorical = next(f for f in features if f.is_categorical)
        wrong = await svc.predict({**rows[0], categorical.name: "no-such-level"})
        assert wrong.status_code == 422
        assert wrong.json()["error"]["details"][0]["loc"] == ["body", categorical.name]


@pytest.mark.parametrize(("dataset", "fixture"), DATASETS)
async def test_null_is_accepted_exactly_where_the_contract_allows(
    dataset: str, fixture: str, request: pytest.FixtureRequest
) -> None:
    trained: TrainedModel = request.getfixturevalue(fixture)
    row = applicants(dataset, 1, seed=5)[0]
    async with running(make_settings(trained)) as svc:
        for spec in load_config(dataset).features:
            response = await svc.client.post(
                "/api/v1/predict", json={**row, spec.name: None}, headers=AUTH
            )
            expected = 200 if spec.nullable else 422
            assert response.status_code == expected, (spec.name, response.text)
            if spec.nullable:
                absent = {k: v for k, v in row.items() if k != spec.name}
                assert (await svc.predict(absent)).status_code == 200


async def test_missing_values_change_the_score(credit_data_model: TrainedModel) -> None:
    row = applicants("credit_data", 1, seed=8)[0]
    row.update(Income=5000.0, Assets=0.0)
    async with running(make_settings(credit_data_model)) as svc:
        known = (await svc.predict(row)).json()["probability"]
        missing = (await svc.predict({**row, "Income": None})).json()["probability"]
    assert known != missing  # NaN reaches the booster as "missing", not as 0
