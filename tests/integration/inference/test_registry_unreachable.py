"""A tracking server that does not answer makes a load fail in seconds, not after MLflow's
default of 7 retries with exponential backoff (about 4 minutes): start-up goes on without
a model, and a reload is refused while the old version keeps serving.

(The outage with a real ``mlflow server`` stopped and restarted is in
``tests/system/inference/test_mlflow_outage.py``.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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


@asynccontextmanager
async def within(seconds: float, what: str) -> AsyncIterator[None]:
    """A deadline, not a measurement: fail with ``what`` if the block takes longer."""
    try:
        async with asyncio.timeout(seconds):
            yield
    except TimeoutError:
        pytest.fail(f"{what}: not done within {seconds:.0f} s")


def nobody_listens() -> str:
    return f"http://127.0.0.1:{free_port()}"


async def test_start_up_does_not_hang_on_an_unreachable_tracking_server() -> None:
    tracking_uri = nobody_listens()
    settings = make_settings(
        model_uri="models:/credit-default@champion",
        mlflow_tracking_uri=tracking_uri,
        load_retry_seconds=60,
    )
    async with within(HANG, "start-up held by MLflow's retries"), running(settings) as svc:
        unready = await svc.client.get("/readyz")
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
        async with within(HANG, "reload held by MLflow's retries"):
            refused = await svc.client.post(
                "/api/v1/admin/reload",
                json={"uri": f"models:/{default_model.summary.model_name}@champion"},
                headers=ADMIN,
            )
        assert refused.status_code == 409
        assert tracking_uri in refused.json()["error"]["message"]
        assert (await svc.predict(ROW)).json()["model"]["version"] == "local"
        assert (await svc.client.get("/readyz")).status_code == 200
