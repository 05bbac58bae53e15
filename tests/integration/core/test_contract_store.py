"""``services.core.contract_store``: a version's contract without its booster."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.core.contract import CONTRACT_FILE
from services.core.contract_store import ContractNotFound, load_contract, version_contract
from services.core.registry import client
from tests.support.models import TrainedModel

pytestmark = pytest.mark.integration


def test_every_uri_form_gives_the_same_contract(
    default_model: TrainedModel, tmp_path: Path
) -> None:
    summary, store = default_model.summary, default_model.tracking_uri
    contract = version_contract(store, summary.model_name, summary.version)
    assert contract.feature_names
    assert load_contract(f"models:/{summary.model_name}/{summary.version}", store) == contract
    assert load_contract(f"runs:/{summary.run_id}/model", store) == contract
    (tmp_path / "m").mkdir()
    contract.save(tmp_path / "m" / CONTRACT_FILE)
    assert load_contract(str(tmp_path), store) == contract


def test_only_the_contract_is_downloaded(
    default_model: TrainedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.artifacts

    fetched: list[dict[str, object]] = []
    download = mlflow.artifacts.download_artifacts

    def spy(**kwargs: object) -> str:
        fetched.append(kwargs)
        return download(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", spy)
    summary = default_model.summary
    version_contract(default_model.tracking_uri, summary.model_name, summary.version)
    assert [f.get("artifact_path") for f in fetched] == [CONTRACT_FILE]


def test_missing_models_are_a_clear_error(default_model: TrainedModel, tmp_path: Path) -> None:
    store = default_model.tracking_uri
    client(store)
    with pytest.raises(ContractNotFound, match="cannot read the contract"):
        load_contract(f"models:/{default_model.summary.model_name}@nope", store)
    with pytest.raises(ContractNotFound, match=r"no contract\.json"):
        load_contract(str(tmp_path), store)
