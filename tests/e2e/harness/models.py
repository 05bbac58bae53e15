"""Real models for the scenarios: two trained versions, copied per scenario.

Training twice (``train_quick``, ~20 s each) happens once per session. Each scenario gets
its own registered model (``copy_model_version``, no retraining) so alias moves and
decision tags of one scenario never show in another: version 1 is the stable model
(alias ``champion``), version 2 the candidate (alias ``challenger``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow

from services.core.contract import CONTRACT_FILE
from services.core.model_store import BOOSTER_FILE
from services.core.registry import client
from tests.support.models import tracking_uri_for, train_quick

BASE_NAME = "credit-default"


@dataclass(frozen=True)
class BaseModels:
    tracking_uri: str
    stable_uri: str
    candidate_uri: str


def train_base_models(folder: Path) -> BaseModels:
    uri = tracking_uri_for(folder)
    stable = train_quick(uri, "default", model_name=BASE_NAME, seed=1)
    candidate = train_quick(uri, "default", model_name=BASE_NAME, seed=2)
    return BaseModels(uri, stable.uri, candidate.uri)


@dataclass(frozen=True)
class ScenarioModels:
    tracking_uri: str
    name: str
    stable: str = "1"
    candidate: str = "2"

    def uri(self, version: str) -> str:
        return f"models:/{self.name}/{version}"

    @property
    def stable_uri(self) -> str:
        return self.uri(self.stable)

    @property
    def candidate_uri(self) -> str:
        return self.uri(self.candidate)

    def aliases(self, version: str) -> list[str]:
        return sorted(client(self.tracking_uri).get_model_version(self.name, version).aliases)

    def tags(self, version: str) -> dict[str, str]:
        return dict(client(self.tracking_uri).get_model_version(self.name, version).tags)

    def champion(self) -> str:
        return str(
            client(self.tracking_uri).get_model_version_by_alias(self.name, "champion").version
        )


def register_scenario_models(base: BaseModels, name: str) -> ScenarioModels:
    registry = client(base.tracking_uri)
    stable = registry.copy_model_version(base.stable_uri, name).version
    candidate = registry.copy_model_version(base.candidate_uri, name).version
    registry.set_registered_model_alias(name, "champion", stable)
    registry.set_registered_model_alias(name, "challenger", candidate)
    return ScenarioModels(base.tracking_uri, name, str(stable), str(candidate))


def register_broken(models: ScenarioModels) -> str:
    """A new version of the candidate whose booster file is garbage: its contract (read
    from the run) passes the controller's gate, but no pod can load it — never ready."""
    registry = client(models.tracking_uri)
    source = registry.get_model_version(models.name, models.candidate)
    local = _local_copy(models, models.candidate_uri, "broken-model-")
    for booster in local.rglob(BOOSTER_FILE):
        booster.write_bytes(b"not a booster")
    version = registry.create_model_version(models.name, str(local), run_id=source.run_id)
    return str(version.version)


def _local_copy(models: ScenarioModels, uri: str, prefix: str) -> Path:
    """The artifacts of ``uri`` downloaded into a new temporary folder (to alter, then
    register as a new version)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=str(folder), tracking_uri=models.tracking_uri
        )
    )


def register_flipping(models: ScenarioModels, threshold: float = 0.0) -> str:
    """A new version with the stable model's booster and a mis-set decision threshold: the
    same scores (no PSI, no score difference), a contract the controller accepts (the
    threshold is not part of compatibility), but at ``threshold`` 0 it declines every
    applicant the stable model approves — a candidate that flips many decisions."""
    registry = client(models.tracking_uri)
    source = registry.get_model_version(models.name, models.stable)
    local = _local_copy(models, models.stable_uri, "flipping-model-")
    for path in local.rglob(CONTRACT_FILE):
        contract = json.loads(path.read_text())
        contract["threshold"] = threshold
        path.write_text(json.dumps(contract))
    version = registry.create_model_version(models.name, str(local), run_id=source.run_id)
    return str(version.version)
