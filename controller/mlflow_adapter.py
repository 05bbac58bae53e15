"""The MLflow adapter: resolve candidate URIs, load contracts and check compatibility,
move the ``champion`` alias, and tag versions with the rollout's decision record.

Built on ``services.core.registry``; contracts come from ``services.core.contract_store``
(the run's ``contract.json``, a few KB, not the whole model).
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from pathlib import Path

from loguru import logger

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


def store_lock(tracking_uri: str) -> contextlib.AbstractContextManager[object]:
    """A process-wide lock around the registry calls of a SQLite store, none for others.

    SQLite takes one writer at a time, and a reader waits while one commits; a connection
    refused that way sleeps in SQLite's busy handler (1, 2, 5, ... 100 ms steps) and polls
    again, so eight reconciles tagging at once waited hundreds of ms, seconds at the tail,
    for writes of a few ms each. In turn under a lock each call starts the moment the one
    before ends. A tracking server (HTTP) or another database serves calls side by side:
    no lock. Contract loads (reads of a version, its run and one artifact) take no lock:
    the cold loads of rollouts started together go side by side, not behind the writes."""
    if tracking_uri.startswith("sqlite:"):
        return threading.Lock()
    return contextlib.nullcontext()


class ContractCache:
    """The last ``size`` contracts loaded, by (model, version). A hit takes no lock that a
    load holds; a miss loads under that version's own lock, so rollouts started together
    load each contract once (the others wait for that one load, not for every other
    version's), and different versions load side by side."""

    def __init__(self, load: Callable[[str, str], ModelContract], size: int = 64) -> None:
        self._load, self._size = load, size
        self._held: OrderedDict[tuple[str, str], ModelContract] = OrderedDict()
        self._keys: dict[tuple[str, str], threading.Lock] = {}
        self._warming: set[tuple[str, str]] = set()  # queued or loading on a warm pool
        self._lock = threading.Lock()  # guards the dicts and set, never held during a load
        self.loads = 0

    def _hit(self, key: tuple[str, str]) -> ModelContract | None:
        with self._lock:
            found = self._held.get(key)
            if found is not None:
                self._held.move_to_end(key)
            return found

    def warm(self, name: str, version: str, pool: Executor) -> bool:
        """Load (name, version) on ``pool``, off the caller's path, unless it is held or
        already being warmed (``True`` when a load was queued). The load is ``get``'s: a
        reader that asks while it runs waits for that one load (single flight), not for a
        second. A failed warm is dropped: the reader that needs the contract loads it
        again and meets the error itself."""
        key = (name, version)
        with self._lock:
            if key in self._held or key in self._warming:
                return False
            self._warming.add(key)

        def load() -> None:
            try:
                self.get(name, version)
            except Exception as exc:  # the reconcile that needs it raises it
                logger.debug("contract of {} v{} not warmed: {}", name, version, exc)
            finally:
                with self._lock:
                    self._warming.discard(key)

        try:
            pool.submit(load)
        except RuntimeError:  # the pool is shut down (the operator is stopping)
            with self._lock:
                self._warming.discard(key)
            return False
        return True

    def get(self, name: str, version: str) -> ModelContract:
        key = (name, version)
        found = self._hit(key)
        if found is not None:
            return found
        with self._lock:
            loading = self._keys.setdefault(key, threading.Lock())
        with loading:
            found = self._hit(key)  # loaded by the thread this one waited for
            if found is not None:
                return found
            contract = self._load(name, version)
            with self._lock:
                self.loads += 1
                self._held[key] = contract
                while len(self._held) > self._size:
                    self._held.popitem(last=False)
                self._keys.pop(key, None)
            return contract


class ModelRegistry:
    def __init__(self, tracking_uri: str) -> None:
        # no progress bars in the operator's log; a stopped MLflow fails a tick in seconds
        use_service_client_defaults()
        self.tracking_uri = tracking_uri
        self._contracts = ContractCache(self._load_contract)
        self._store = store_lock(tracking_uri)

    def resolve(self, uri: str) -> tuple[str, str]:
        """(name, version) of a ``models:/`` URI, aliases resolved now."""
        try:
            ref = ModelRef.parse(uri)
            if ref.version:
                return ref.name, ref.version  # pinned: no registry call
            with self._store:
                return ref.name, resolve_version(self.tracking_uri, ref)
        except Exception as exc:
            raise RegistryError(f"cannot resolve {uri!r}: {type(exc).__name__}: {exc}") from exc

    def _load_contract(self, name: str, version: str) -> ModelContract:
        # reads only, outside the store lock: the cold loads of many versions (rollouts
        # started together) go side by side instead of one after another behind the writes
        return version_contract(self.tracking_uri, name, version)

    def contract(self, uri: str) -> ModelContract:
        """The contract of a registry URI or of a local model folder."""
        try:
            if not uri.startswith("models:/"):
                return find_contract(Path(uri))
            name, version = self.resolve(uri)
            return self._contracts.get(name, version)
        except RegistryError:
            raise
        except Exception as exc:
            raise RegistryError(f"cannot read the contract of {uri!r}: {exc}") from exc

    def warm(self, uris: Iterable[str | None], pool: Executor) -> int:
        """Load the contracts of the pinned registry URIs among ``uris`` on ``pool``, ahead
        of the ``check`` that will need them (how many loads were queued). An alias (its
        version asked of the registry) or a local folder is left to ``check``."""
        queued = 0
        for uri in dict.fromkeys(u for u in uris if u and u.startswith("models:/")):
            try:
                ref = ModelRef.parse(uri)
            except Exception:  # ``check`` reports it
                continue
            if ref.version:
                queued += self._contracts.warm(ref.name, ref.version, pool)
        return queued

    def check(self, stable_uri: str, candidate_uri: str) -> ContractCheck:
        """Whether the candidate's contract can replace the stable one's."""
        issues = compatibility_issues(self.contract(stable_uri), self.contract(candidate_uri))
        return ContractCheck(tuple(issues))

    def move_alias(self, name: str, alias: str, version: str) -> None:
        try:
            with self._store:
                set_alias(self.tracking_uri, name, alias, version)
        except Exception as exc:  # any store error: retried at the next tick
            raise RegistryError(f"cannot move {name}@{alias} to v{version}: {exc}") from exc

    def tag(self, name: str, version: str, tags: dict[str, str]) -> int:
        """Tag a version, writing only the tags it does not already hold (returns how many
        were written); any store error (e.g. the SQL store's IntegrityError when two
        writers tag the same version at once) is a ``RegistryError``: the handler retries
        it at the next tick, not after kopf's default minute."""
        try:
            with self._store:
                return _tag_version(self.tracking_uri, name, version, tags)
        except Exception as exc:
            raise RegistryError(f"cannot tag {name} v{version}: {exc}") from exc

    def aliases(self, name: str, version: str) -> list[str]:
        with self._store:
            return aliases_of(self.tracking_uri, name, version)
