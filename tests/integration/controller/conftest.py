"""Registered versions shared by the controller's MLflow and operator tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest

from services.core.contract import CONTRACT_FILE, ModelContract
from services.core.registry import client
from tests.integration.controller.hook_receiver import Receiver
from tests.support.models import TrainedModel


@dataclass(frozen=True)
class RolloutModels:
    """Versions 1, 2 and 4 share the trained model's contract; version 3 drops a feature."""

    tracking_uri: str
    name: str = "rollout-test"

    def uri(self, version: str) -> str:
        return f"models:/{self.name}/{version}"

    def new_version(self) -> str:
        """A fresh version compatible with version 1 (so tests never share tags)."""
        mlflow_client = client(self.tracking_uri)
        first = mlflow_client.get_model_version(self.name, "1")
        return str(
            mlflow_client.create_model_version(self.name, str(first.source), first.run_id).version
        )

    def alias_version(self, alias: str) -> str:
        return str(client(self.tracking_uri).get_model_version_by_alias(self.name, alias).version)

    def alias(self, alias: str, version: str) -> str:
        client(self.tracking_uri).set_registered_model_alias(self.name, alias, version)
        return f"models:/{self.name}@{alias}"


@pytest.fixture(scope="session")
def rollout_models(
    default_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory
) -> RolloutModels:
    models = RolloutModels(default_model.tracking_uri)
    mlflow_client, run_id = client(models.tracking_uri), default_model.summary.run_id
    mlflow_client.create_registered_model(models.name)
    source = f"runs:/{run_id}/model"
    mlflow_client.create_model_version(models.name, source, run_id)
    mlflow_client.create_model_version(models.name, source, run_id)
    path = mlflow.artifacts.download_artifacts(
        run_id=run_id,
        artifact_path=CONTRACT_FILE,
        tracking_uri=models.tracking_uri,
        dst_path=str(tmp_path_factory.mktemp("contract")),
    )
    contract = ModelContract.load(Path(path))
    broken = json.loads(contract.model_dump_json())
    broken["features"] = broken["features"][1:]
    folder = tmp_path_factory.mktemp("broken")
    (folder / CONTRACT_FILE).write_text(json.dumps(broken))
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(folder / CONTRACT_FILE))
    mlflow_client.create_model_version(models.name, f"runs:/{run.info.run_id}", run.info.run_id)
    mlflow_client.create_model_version(models.name, source, run_id)
    models.alias("champion", "1")
    return models


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on a free local port recording webhook and notification POSTs."""
    server = Receiver().start()
    try:
        yield server
    finally:
        server.stop()
