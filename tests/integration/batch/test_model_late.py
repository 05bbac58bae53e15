"""A job API that starts before its model can be read (MLflow still starting, the alias not
set yet) becomes ready by itself once the model is there: the readiness probe pins again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.batch.api.app import create_app
from services.batch.service import batch_service
from tests.integration.batch.conftest import make_settings
from tests.integration.batch.harness import TestClient
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration


def test_readiness_pins_the_model_again_once_it_can_be_read(
    redis: RedisServer, tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = tmp_path / "model-not-there-yet"
    settings = make_settings(redis, tmp_path, late)
    with TestClient(create_app(settings)) as client:
        first = client.get("/readyz")
        assert first.status_code == 503
        assert "model not loaded" in first.json()["problems"][0]

        # within the retry interval a probe does not ask the registry again
        shutil.copytree(model_dir, late)
        assert client.get("/readyz").status_code == 503

        monkeypatch.setattr(batch_service, "PIN_RETRY_SECONDS", 0.0)
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.json()
        assert ready.json()["problems"] == []
        assert ready.json()["model"]["uri"] == str(late)
