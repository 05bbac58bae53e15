"""Read a model version's contract without downloading its booster.

The trainer logs ``contract.json`` (a few KB) as a run artifact beside the model; this
fetches that one file. A version whose run has none (made by other tooling) falls back to
the contract inside the downloaded model. Used where only the contract is needed: the
controller's compatibility gate, a job API checking submissions.

URIs: ``models:/name/N``, ``models:/name@alias``, ``runs:/<run>/<path>``, or a local
folder that holds ``contract.json`` somewhere below it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow

from services.core.contract import CONTRACT_FILE, ModelContract
from services.core.model_ref import ModelRef
from services.core.paths import find_below
from services.core.registry import client, resolve_version


class ContractNotFound(RuntimeError):
    """No contract at the URI (missing version, run or file, or the registry failed)."""


def load_contract(uri: str, tracking_uri: str) -> ModelContract:
    """The contract of the model at ``uri`` (any form above); aliases resolved now."""
    try:
        if uri.startswith("models:/"):
            ref = ModelRef.parse(uri)
            return version_contract(tracking_uri, ref.name, resolve_version(tracking_uri, ref))
        if uri.startswith("runs:/"):
            return _run_contract(tracking_uri, uri.removeprefix("runs:/").split("/", 1)[0], uri)
        return find_contract(Path(uri))
    except ContractNotFound:
        raise
    except Exception as exc:
        raise ContractNotFound(f"cannot read the contract of {uri!r}: {exc}") from exc


def version_contract(tracking_uri: str, name: str, version: str) -> ModelContract:
    """The contract of registered version ``name``/``version`` (no alias resolution)."""
    run_id = client(tracking_uri).get_model_version(name, version).run_id
    return _run_contract(tracking_uri, run_id, f"models:/{name}/{version}")


def find_contract(folder: Path) -> ModelContract:
    """The first ``contract.json`` in or just below ``folder`` (a model folder, downloaded
    or local; see ``find_below`` for the depth)."""
    found = find_below(folder, CONTRACT_FILE)
    if not found:
        raise ContractNotFound(f"no {CONTRACT_FILE} under {folder}")
    return ModelContract.load(found[0])


def _run_contract(tracking_uri: str, run_id: str | None, model_uri: str) -> ModelContract:
    client(tracking_uri)  # the process-wide store for the fluent download calls below
    with tempfile.TemporaryDirectory(prefix="contract-") as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=CONTRACT_FILE, dst_path=tmp, tracking_uri=tracking_uri
            )
            return ModelContract.load(Path(path))
        except Exception:  # a run without a run-level contract: read the model's
            folder = mlflow.artifacts.download_artifacts(
                artifact_uri=model_uri,
                dst_path=tmp,
                tracking_uri=tracking_uri,
                registry_uri=tracking_uri,
            )
            return find_contract(Path(folder))
