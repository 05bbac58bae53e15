"""The MLflow adapter: resolve candidate URIs, load contracts and check compatibility,
move the ``champion`` alias, and tag versions with the rollout's decision record.

Built on ``services.core.registry``; contracts are read from the run's ``contract.json``
(a few KB), not by downloading the whole model.
"""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

import mlflow

from controller.rollout.readings import ContractCheck
from services.core.contract import CONTRACT_FILE, ModelContract, compatibility_issues
from services.core.registry import (
    ModelRef,
    aliases_of,
    client,
    resolve_version,
    set_alias,
    use_service_client_defaults,
)
from services.core.registry import tag_version as _tag_version


class RegistryError(Exception):
    """The registry could not answer (unknown model/alias, MLflow unreachable)."""


def _find_contract(folder: Path) -> ModelContract:
    found = sorted(folder.rglob(CONTRACT_FILE))
    if not found:
        raise RegistryError(f"no {CONTRACT_FILE} under {folder}")
    return ModelContract.load(found[0])


class ModelRegistry:
    def __init__(self, tracking_uri: str) -> None:
        # no progress bars in the operator's log; a stopped MLflow fails a tick in seconds
        use_service_client_defaults()
        self.tracking_uri = tracking_uri
        self._contract = lru_cache(maxsize=64)(self._load_contract)

    def resolve(self, uri: str) -> tuple[str, str]:
        """(name, version) of a ``models:/`` URI, aliases resolved now."""
        try:
            ref = ModelRef.parse(uri)
            return ref.name, resolve_version(self.tracking_uri, ref)
        except Exception as exc:
            raise RegistryError(f"cannot resolve {uri!r}: {type(exc).__name__}: {exc}") from exc

    def _load_contract(self, name: str, version: str) -> ModelContract:
        mlflow_client = client(self.tracking_uri)
        run_id = mlflow_client.get_model_version(name, version).run_id
        with tempfile.TemporaryDirectory(prefix="contract-") as tmp:
            try:
                path = mlflow.artifacts.download_artifacts(
                    run_id=run_id,
                    artifact_path=CONTRACT_FILE,
                    dst_path=tmp,
                    tracking_uri=self.tracking_uri,
                )
                return ModelContract.load(Path(path))
            except Exception:  # a version without a run-level contract: read the model's
                uri = f"models:/{name}/{version}"
                folder = mlflow.artifacts.download_artifacts(
                    artifact_uri=uri,
                    dst_path=tmp,
                    tracking_uri=self.tracking_uri,
                    registry_uri=self.tracking_uri,
                )
                return _find_contract(Path(folder))

    def contract(self, uri: str) -> ModelContract:
        """The contract of a registry URI or of a local model folder."""
        try:
            if not uri.startswith("models:/"):
                return _find_contract(Path(uri))
            return self._contract(*self.resolve(uri))
        except RegistryError:
            raise
        except Exception as exc:
            raise RegistryError(f"cannot read the contract of {uri!r}: {exc}") from exc

    def check(self, stable_uri: str, candidate_uri: str) -> ContractCheck:
        """Whether the candidate's contract can replace the stable one's."""
        issues = compatibility_issues(self.contract(stable_uri), self.contract(candidate_uri))
        return ContractCheck(tuple(issues))

    def move_alias(self, name: str, alias: str, version: str) -> None:
        set_alias(self.tracking_uri, name, alias, version)

    def tag(self, name: str, version: str, tags: dict[str, str]) -> None:
        _tag_version(self.tracking_uri, name, version, tags)

    def aliases(self, name: str, version: str) -> list[str]:
        return aliases_of(self.tracking_uri, name, version)
