"""The MLflow adapter: resolve candidate URIs, load contracts and check compatibility,
move the ``champion`` alias, and tag versions with the rollout's decision record.

Built on ``services.core.registry``; contracts come from ``services.core.contract_store``
(the run's ``contract.json``, a few KB, not the whole model).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from controller.rollout.readings import ContractCheck
from services.core.contract import ModelContract, compatibility_issues
from services.core.contract_store import find_contract, version_contract
from services.core.model_ref import ModelRef
from services.core.registry import (
    aliases_of,
    resolve_version,
    set_alias,
    use_service_client_defaults,
)
from services.core.registry import tag_version as _tag_version


class RegistryError(Exception):
    """The registry could not answer (unknown model/alias, MLflow unreachable)."""


class ModelRegistry:
    def __init__(self, tracking_uri: str) -> None:
        # no progress bars in the operator's log; a stopped MLflow fails a tick in seconds
        use_service_client_defaults()
        self.tracking_uri = tracking_uri
        self._contract = lru_cache(maxsize=64)(self._load_contract)
        # One load at a time: rollouts started together would otherwise all miss the
        # cache and each download and parse the same contracts at once.
        self._loading = threading.Lock()

    def resolve(self, uri: str) -> tuple[str, str]:
        """(name, version) of a ``models:/`` URI, aliases resolved now."""
        try:
            ref = ModelRef.parse(uri)
            return ref.name, resolve_version(self.tracking_uri, ref)
        except Exception as exc:
            raise RegistryError(f"cannot resolve {uri!r}: {type(exc).__name__}: {exc}") from exc

    def _load_contract(self, name: str, version: str) -> ModelContract:
        return version_contract(self.tracking_uri, name, version)

    def contract(self, uri: str) -> ModelContract:
        """The contract of a registry URI or of a local model folder."""
        try:
            if not uri.startswith("models:/"):
                return find_contract(Path(uri))
            name, version = self.resolve(uri)
            with self._loading:
                return self._contract(name, version)
        except RegistryError:
            raise
        except Exception as exc:
            raise RegistryError(f"cannot read the contract of {uri!r}: {exc}") from exc

    def check(self, stable_uri: str, candidate_uri: str) -> ContractCheck:
        """Whether the candidate's contract can replace the stable one's."""
        issues = compatibility_issues(self.contract(stable_uri), self.contract(candidate_uri))
        return ContractCheck(tuple(issues))

    def move_alias(self, name: str, alias: str, version: str) -> None:
        try:
            set_alias(self.tracking_uri, name, alias, version)
        except Exception as exc:  # any store error: retried at the next tick
            raise RegistryError(f"cannot move {name}@{alias} to v{version}: {exc}") from exc

    def tag(self, name: str, version: str, tags: dict[str, str]) -> int:
        """Tag a version, writing only the tags it does not already hold (returns how many
        were written); any store error (e.g. the SQL store's IntegrityError when two
        writers tag the same version at once) is a ``RegistryError``: the handler retries
        it at the next tick, not after kopf's default minute."""
        try:
            return _tag_version(self.tracking_uri, name, version, tags)
        except Exception as exc:
            raise RegistryError(f"cannot tag {name} v{version}: {exc}") from exc

    def aliases(self, name: str, version: str) -> list[str]:
        return aliases_of(self.tracking_uri, name, version)
