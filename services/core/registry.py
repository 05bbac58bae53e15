"""Thin helpers around the MLflow model registry, shared by trainer, servers and controller."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # mlflow is imported on first use: a local model folder never needs it
    from mlflow import MlflowClient

from services.core.model_ref import ModelRef

# MLflow client defaults for a long-running service (MLFLOW_* values an operator sets win):
# no download progress bar (not a JSON log line), and a registry call that fails in
# seconds. MLflow's own default is 7 retries with exponential backoff, about 4 minutes
# against a stopped tracking server: the inference service's first load held start-up that
# long (no /healthz), and every reload held the admin call and the reload lock. Callers
# retry on their own schedule (the inference watcher, the controller's next tick).
MLFLOW_CLIENT_DEFAULTS = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",  # seconds, doubling (an integer)
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",  # seconds per connect / read
}


def use_service_client_defaults() -> None:
    """Apply :data:`MLFLOW_CLIENT_DEFAULTS` to this process where not already set."""
    for name, value in MLFLOW_CLIENT_DEFAULTS.items():
        os.environ.setdefault(name, value)


def client(tracking_uri: str) -> MlflowClient:
    """A registry client for ``tracking_uri``, also made the process-wide default on every
    call (not only the first: fluent calls such as ``download_artifacts`` that follow must
    use this store even after another store was used in the same process)."""
    import mlflow  # ~3 s of start-up a local model folder does not need

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return _client(tracking_uri)


@lru_cache(maxsize=8)
def _client(tracking_uri: str) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def resolve_version(tracking_uri: str, ref: ModelRef) -> str:
    """The concrete version number an alias points at (or the version given)."""
    if ref.version:
        return ref.version
    assert ref.alias is not None
    return str(client(tracking_uri).get_model_version_by_alias(ref.name, ref.alias).version)


@dataclass(frozen=True)
class PinnedModel:
    """A model URI resolved to what it names now, for good: ``uri`` is concrete
    (``models:/name/N``, a ``runs:/`` URI or an absolute folder) and loads the same model
    whatever happens to aliases later. ``version`` is the registry version, or ``run`` /
    ``local``; ``name`` is the registered name (None outside the registry)."""

    uri: str
    version: str
    name: str | None = None


def drop_pooled_connections() -> None:
    """Forget MLflow's pooled HTTP sessions, so the next call dials the server again.

    After a failed call: a connection opened before the cluster routed the tracking
    Service's address (seen on kind: the pod's first request, made as the Service was
    created, was answered 404 by whatever the unrouted address reached) is kept alive by the
    pool and every later call reuses it, so the load never succeeds. MLflow caches one
    session per retry setting (``request_utils._cached_get_request_session``, private);
    if that name moves, this does nothing. The dropped sessions' sockets close when
    they are collected."""
    from mlflow.utils import request_utils

    cached = getattr(request_utils, "_cached_get_request_session", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


def is_local(uri: str) -> bool:
    """A model folder on disk (no scheme), not a registry or runs URI."""
    return "://" not in uri and ":/" not in uri


def pin(tracking_uri: str, uri: str) -> PinnedModel:
    """Resolve ``uri`` now: an alias to the version it points at (one registry call); a
    fixed version, a runs URI or a folder as they are (a folder made absolute)."""
    if uri.startswith("models:/"):
        ref = ModelRef.parse(uri)
        version = resolve_version(tracking_uri, ref)
        return PinnedModel(ModelRef(ref.name, version).uri, version, ref.name)
    if is_local(uri):
        return PinnedModel(str(Path(uri).resolve()), "local")
    return PinnedModel(uri, "run")


def set_alias(tracking_uri: str, name: str, alias: str, version: str) -> None:
    client(tracking_uri).set_registered_model_alias(name, alias, version)


def aliases_of(tracking_uri: str, name: str, version: str) -> list[str]:
    return sorted(client(tracking_uri).get_model_version(name, version).aliases)


def changed_tags(current: Mapping[str, str], wanted: Mapping[str, str]) -> dict[str, str]:
    """The tags of ``wanted`` that ``current`` does not already hold with the same value."""
    return {key: value for key, value in wanted.items() if current.get(key) != value}


def sql_store(mlflow_client: object) -> Any | None:
    """The registry's SQLAlchemy store (SQLite, PostgreSQL, MySQL...) behind
    ``mlflow_client``, or ``None``: a tracking server, another store, or an MLflow whose
    store lacks what ``set_version_tags`` uses (then the tags go one call each)."""
    registry_client = getattr(mlflow_client, "_get_registry_client", None)
    if registry_client is None:
        return None
    try:
        from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore
    except ImportError:
        return None
    store = registry_client().store
    needed = ("ManagedSessionMaker", "_get_sql_model_version")
    if not isinstance(store, SqlAlchemyStore) or not all(hasattr(store, a) for a in needed):
        return None
    return store


def _write_session(store: Any) -> Any:
    try:  # MLflow 3.x sessions are read-only unless asked otherwise
        return store.ManagedSessionMaker(read_only=False)
    except TypeError:  # an MLflow without read-only sessions
        return store.ManagedSessionMaker()


def set_version_tags(store: Any, name: str, version: str, tags: Mapping[str, str]) -> int:
    """Read a version's tags and set those of ``tags`` missing or different in one
    transaction of a SQL ``store`` (returns how many were set). MLflow's client sets one
    tag per call, each its own transaction (a SQLite commit, an fsync, each); here a
    verdict's eight tags cost one, and they land together or not at all."""
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersionTag
    from mlflow.utils.validation import _validate_model_version_tag

    for key, value in tags.items():
        _validate_model_version_tag(key, value)
    with _write_session(store) as session:
        found = store._get_sql_model_version(session, name, version)
        current = {tag.key: tag.value for tag in found.model_version_tags}
        changed = changed_tags(current, tags)
        where = {"workspace": found.workspace} if hasattr(found, "workspace") else {}
        for key, value in changed.items():
            row = SqlModelVersionTag(name=name, version=found.version, key=key, value=value)
            for column, held in where.items():
                setattr(row, column, held)
            session.merge(row)
    return len(changed)


def tag_version(tracking_uri: str, name: str, version: str, tags: dict[str, str]) -> int:
    """Give the version ``tags`` (other tags are left as they are); returns how many were
    written. A SQL store gets one transaction (``set_version_tags``). Otherwise MLflow sets
    one tag per call, so with more than one tag the version's tags are read once and only
    those missing or different are set (a repeated decision, or tags another writer
    already set, write nothing); a single tag is set without the read."""
    mlflow_client = client(tracking_uri)
    store = sql_store(mlflow_client)
    if store is not None and tags:
        return set_version_tags(store, name, version, tags)
    current = mlflow_client.get_model_version(name, version).tags if len(tags) > 1 else {}
    changed = changed_tags(current or {}, tags)
    for key, value in changed.items():
        mlflow_client.set_model_version_tag(name, version, key, value)
    return len(changed)
