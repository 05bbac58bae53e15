"""A tracking server that does not answer makes a load fail in seconds, not after MLflow's
default of 7 retries with exponential backoff (about 4 minutes): start-up goes on without
a model, and a reload is refused while the old version keeps serving.

(The outage with a real ``mlflow server`` stopped and restarted is in
``tests/system/inference/test_mlflow_outage.py``.)
"""

from __future__ import annotations

import time
from pathlib import Path

import mlflow
import pytest

from services.core.registry import client
from tests.integration.inference.harness import ADMIN, make_settings, running
from tests.support.models import TrainedModel
from tests.support.processes import free_port

pytestmark = pytest.mark.integration

ROW = {"student": "No", "balance": 900.0, "income": 30000.0}
HANG = 60.0  # seconds; far above a failed call (~2 s), far below MLflow's default (~250 s)


def nobody_listens() -> str:
    return f"http://127.0.0.1:{free_port()}"


async def test_start_up_does_not_hang_on_an_unreachable_tracking_server() -> None:
    tracking_uri = nobody_listens()
    settings = make_settings(
        model_uri="models:/credit-default@champion",
        mlflow_tracking_uri=tracking_uri,
        load_retry_seconds=60,
    )
    began = time.monotonic()
    async with running(settings) as svc:
        started_after = time.monotonic() - began
        unready = await svc.client.get("/readyz")
    assert started_after < HANG, f"start-up held {started_after:.0f} s by MLflow's retries"
    assert unready.status_code == 503
    assert tracking_uri in unready.json()["reason"]


async def test_reload_fails_fast_and_the_old_model_keeps_serving(
    default_model: TrainedModel, tmp_path: Path
) -> None:
    client(default_model.tracking_uri)
    folder = mlflow.artifacts.download_artifacts(
        artifact_uri=default_model.uri, dst_path=str(tmp_path)
    )
    tracking_uri = nobody_listens()
    settings = make_settings(model_uri=folder, mlflow_tracking_uri=tracking_uri)
    async with running(settings) as svc:
        began = time.monotonic()
        refused = await svc.client.post(
            "/api/v1/admin/reload",
            json={"uri": f"models:/{default_model.summary.model_name}@champion"},
            headers=ADMIN,
        )
        refused_after = time.monotonic() - began
        assert refused.status_code == 409
        assert tracking_uri in refused.json()["error"]["message"]
        assert (await svc.predict(ROW)).json()["model"]["version"] == "local"
        assert (await svc.client.get("/readyz")).status_code == 200
    assert refused_after < HANG, f"reload held {refused_after:.0f} s by MLflow's retries"
