"""Inference records every decision (``/predict`` and bulk) in a real PostgreSQL, and
``GET /api/v1/decisions/{request_id}`` shows them behind the admin key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.core.decisions.settings import DecisionSettings
from services.core.decisions.store import DecisionStore
from tests.integration.inference.harness import (
    ADMIN,
    AUTH,
    applicants,
    make_settings,
    metric,
    running,
)
from tests.support.models import TrainedModel
from tests.support.postgres import PostgresServer, postgres_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


def record(pg: PostgresServer, tmp_path: Path) -> DecisionSettings:
    return DecisionSettings(dsn=pg.dsn, spool_dir=tmp_path / "spool", flush_seconds=0.05)


async def test_single_and_bulk_decisions_are_recorded_and_looked_up(
    default_model: TrainedModel, pg: PostgresServer, tmp_path: Path
) -> None:
    rows = applicants("default", 3, seed=4)
    async with running(make_settings(default_model), record(pg, tmp_path)) as service:
        one = await service.client.post(
            "/api/v1/predict", json=rows[0], headers={**AUTH, "X-Request-ID": "one-1"}
        )
        assert one.status_code == 200, one.text
        bulk = await service.client.post(
            "/api/v1/predict/bulk",
            json={"applicants": rows},
            headers={**AUTH, "X-Request-ID": "bulk-1"},
        )
        assert bulk.status_code == 200, bulk.text
        found = await service.client.get("/api/v1/decisions/one-1", headers=ADMIN)
        assert found.status_code == 200, found.text
        doc = found.json()
        assert doc["count"] == 1
        (decision,) = doc["decisions"]
        answer = one.json()
        assert decision["model"] == answer["model"]
        assert decision["probability"] == answer["probability"]
        assert decision["prediction"] == answer["prediction"]
        assert decision["risk_band"] == answer["risk_band"]
        assert decision["inputs"] == rows[0]
        assert decision["item"] == 0
        assert decision["reasons"] == answer.get("reasons", [])  # declined: its reasons
        assert len(decision["caller"]) == 12
        assert 0 < decision["threshold"] < 1
        many = (await service.client.get("/api/v1/decisions/bulk-1", headers=ADMIN)).json()
        assert [d["item"] for d in many["decisions"]] == [0, 1, 2]
        assert [d["probability"] for d in many["decisions"]] == [
            p["probability"] for p in bulk.json()["predictions"]
        ]
        assert [d["inputs"] for d in many["decisions"]] == rows
        assert [d["reasons"] for d in many["decisions"]] == [
            p.get("reasons", []) for p in bulk.json()["predictions"]
        ]
        explained = await service.client.post(
            "/api/v1/predict?explain=true",
            json=rows[0],
            headers={**AUTH, "X-Request-ID": "why-1"},
        )
        assert explained.json()["reasons"], "explain=true answers with reasons"
        why = (await service.client.get("/api/v1/decisions/why-1", headers=ADMIN)).json()
        assert why["decisions"][0]["reasons"] == explained.json()["reasons"]
        samples = await service.metrics()
        assert metric(samples, "decisions_recorded_total") == 5
        assert metric(samples, "decisions_lost_total", reason="spool_full") == 0


async def test_look_up_is_admin_only_and_404_for_unknown(
    default_model: TrainedModel, pg: PostgresServer, tmp_path: Path
) -> None:
    async with running(make_settings(default_model), record(pg, tmp_path)) as service:
        assert (await service.client.get("/api/v1/decisions/x1")).status_code == 401
        assert (await service.client.get("/api/v1/decisions/x1", headers=AUTH)).status_code == 401
        wrong = {"X-Admin-Key": "nope"}
        assert (await service.client.get("/api/v1/decisions/x1", headers=wrong)).status_code == 403
        missing = await service.client.get("/api/v1/decisions/never-seen", headers=ADMIN)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        bad = await service.client.get("/api/v1/decisions/a%20b", headers=ADMIN)
        assert bad.status_code == 422


async def test_record_off_answers_503(default_model: TrainedModel) -> None:
    async with running(make_settings(default_model)) as service:
        assert (await service.predict(applicants("default", 1)[0])).status_code == 200
        off = await service.client.get("/api/v1/decisions/x1", headers=ADMIN)
        assert off.status_code == 503
        assert "DECISIONS_DSN" in off.json()["error"]["message"]


async def test_shadow_pod_records_nothing_but_answers_the_same(
    default_model: TrainedModel, pg: PostgresServer, tmp_path: Path
) -> None:
    """A shadow pod (INFERENCE_SHADOW, mirrored copies only) given DECISIONS_DSN writes no
    row to the real PostgreSQL; the same requests on a normal pod are recorded."""
    rows = applicants("default", 3, seed=9)
    store = DecisionStore(pg.dsn)
    store.ensure_schema()
    before = store.count()
    shadow = make_settings(default_model, shadow=True)
    async with running(shadow, record(pg, tmp_path / "shadow")) as service:
        one = await service.client.post(
            "/api/v1/predict", json=rows[0], headers={**AUTH, "X-Request-ID": "mirror-1"}
        )
        bulk = await service.client.post(
            "/api/v1/predict/bulk",
            json={"applicants": rows},
            headers={**AUTH, "X-Request-ID": "mirror-2"},
        )
        assert one.status_code == bulk.status_code == 200
        off = await service.client.get("/api/v1/decisions/mirror-1", headers=ADMIN)
        assert off.status_code == 503
        assert "shadow" in off.json()["error"]["message"]
        samples = await service.metrics()
        scored = sum(v for n, _, v in samples if n == "inference_predictions_total")
        assert scored == 4  # metrics unchanged: every applicant is still counted
    assert store.find("mirror-1") == []
    assert store.find("mirror-2") == []
    assert store.count() == before
    async with running(make_settings(default_model), record(pg, tmp_path / "live")) as live:
        again = await live.client.post(
            "/api/v1/predict/bulk",
            json={"applicants": rows},
            headers={**AUTH, "X-Request-ID": "live-2"},
        )
        assert again.json()["predictions"] == bulk.json()["predictions"]  # same answers
    assert len(store.find("live-2")) == 3
    assert store.count() == before + 3
    store.close()
