"""Reason codes of the served model: on declined applicants, on request (?explain=true),
never otherwise; exact (they add up to the margin) and worded by the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from services.core.datasets import load_config
from services.core.encoding import encode_frame
from services.core.model_store import load_model
from services.core.reasons import top_reasons
from services.core.synthetic import ApplicantGenerator
from services.inference.schemas import build_schemas
from tests.integration.inference.harness import Service, applicants, make_settings, running
from tests.support.models import TrainedModel

pytestmark = pytest.mark.integration

DECLINED = {"student": "Yes", "balance": 2600.0, "income": 12000.0}
ACCEPTED = {"student": "No", "balance": 100.0, "income": 45000.0}
STATEMENTS = {  # data/configs/default.yaml
    "Applicant is a student",
    "Applicant is not a student",
    "Card balance is high",
    "Card balance is low",
    "Income is high",
    "Income is insufficient",
}


@pytest.fixture
async def service(default_model: TrainedModel) -> AsyncIterator[Service]:
    async with running(make_settings(default_model)) as svc:
        yield svc


def check_reasons(reasons: list[dict[str, Any]], applicant: dict[str, Any]) -> None:
    assert 1 <= len(reasons) <= 4
    contributions = [r["contribution"] for r in reasons]
    assert all(c > 0 for c in contributions)
    assert contributions == sorted(contributions, reverse=True)
    for reason in reasons:
        assert set(reason) == {"feature", "value", "contribution", "statement"}
        assert reason["value"] == applicant[reason["feature"]]
        assert reason["statement"] in STATEMENTS


async def test_declined_applicant_gets_reasons_worded_by_the_contract(service: Service) -> None:
    body = (await service.predict(DECLINED)).json()
    assert body["prediction"] == 1
    check_reasons(body["reasons"], DECLINED)
    assert body["reasons"][0] == {
        "feature": "balance",
        "value": 2600.0,
        "contribution": pytest.approx(body["reasons"][0]["contribution"]),
        "statement": "Card balance is high",
    }


async def test_accepted_applicant_gets_reasons_only_when_asked(service: Service) -> None:
    plain = (await service.predict(ACCEPTED)).json()
    assert plain["prediction"] == 0
    assert "reasons" not in plain
    response = await service.client.post(
        "/api/v1/predict?explain=true", json=ACCEPTED, headers={"X-API-Key": "test-client-key"}
    )
    explained = response.json()
    assert explained["probability"] == plain["probability"]
    assert isinstance(explained["reasons"], list)
    for reason in explained["reasons"]:
        assert reason["contribution"] > 0
        assert reason["statement"] in STATEMENTS


async def test_bulk_explains_declined_rows_or_all_rows_with_explain(service: Service) -> None:
    rows = [ACCEPTED, DECLINED, *applicants("default", 30, seed=5)]
    plain = (await service.bulk(rows)).json()["predictions"]
    for row, answer in zip(rows, plain, strict=True):
        if answer["prediction"] == 1:
            check_reasons(answer["reasons"], row)
        else:
            assert "reasons" not in answer
    explained = (
        await service.client.post(
            "/api/v1/predict/bulk",
            params={"explain": "true"},
            json={"applicants": rows},
            headers={"X-API-Key": "test-client-key"},
        )
    ).json()["predictions"]
    assert all("reasons" in answer for answer in explained)
    declined = [a["reasons"] for a in plain if a["prediction"] == 1]
    assert declined == [a["reasons"] for a in explained if a["prediction"] == 1]


async def test_reasons_off_by_setting_and_bad_explain_is_a_422(
    default_model: TrainedModel,
) -> None:
    async with running(make_settings(default_model, reasons_top_k=0)) as service:
        assert "reasons" not in (await service.predict(DECLINED)).json()
        bad = await service.client.post(
            "/api/v1/predict?explain=perhaps",
            json=DECLINED,
            headers={"X-API-Key": "test-client-key"},
        )
        assert bad.status_code == 422, bad.text


@pytest.mark.parametrize("dataset", ["default", "credit_data"])
def test_contributions_plus_bias_equal_the_margin(
    dataset: str, default_model: TrainedModel, credit_data_model: TrainedModel
) -> None:
    trained = default_model if dataset == "default" else credit_data_model
    model = load_model(trained.uri, trained.tracking_uri)
    rows = applicants(dataset, 300, seed=11)  # credit_data: categoricals and missing values
    encoder = build_schemas(model.contract, 1000).encoder
    names = model.contract.feature_names
    records = [dict(zip(encoder.keys, (r[n] for n in names), strict=True)) for r in rows]
    encoded = encoder.encode(records)
    contributions = model.contributions(encoded)
    margin = model.booster.inplace_predict(encoded, predict_type="margin")
    assert contributions.shape == (300, len(model.contract.features) + 1)
    np.testing.assert_allclose(contributions.sum(axis=1), margin, rtol=1e-5, atol=1e-5)
    for i in range(20):
        values = [rows[i][n] for n in names]
        reasons = top_reasons(contributions[i], values, model.statements)
        assert all(r.contribution > 0 for r in reasons)
        assert len(reasons) == min(4, int((contributions[i, :-1] > 0).sum()))


@pytest.mark.parametrize("dataset", ["default", "credit_data"])
def test_many_rows_explained_once_per_split_pattern_get_the_same_numbers(
    dataset: str, default_model: TrainedModel, credit_data_model: TrainedModel
) -> None:
    """Batch computes TreeSHAP once per group of rows on the same side of every split and
    copies it: bit-identical to computing every row (missing values, categories too)."""
    trained = default_model if dataset == "default" else credit_data_model
    model = load_model(trained.uri, trained.tracking_uri)
    frame = ApplicantGenerator.from_config(load_config(dataset)).sample(20_000, seed=4)
    encoded = encode_frame(model.contract.features, frame)
    first, inverse = model.split_bins.distinct(encoded)
    assert len(first) < len(encoded)
    np.testing.assert_array_equal(
        model.contributions(encoded[first])[inverse], model.contributions(encoded)
    )
    np.testing.assert_array_equal(
        model.contributions_of_many(encoded), model.contributions(encoded)
    )
