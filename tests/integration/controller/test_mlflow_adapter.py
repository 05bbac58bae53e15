"""The MLflow adapter on a real local store: resolve, contract gate, alias moves, tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.mlflow_adapter import ModelRegistry, RegistryError
from services.core.contract import CONTRACT_FILE, ModelContract
from services.core.registry import client
from tests.integration.controller.conftest import RolloutModels

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def registry(rollout_models: RolloutModels) -> ModelRegistry:
    return ModelRegistry(rollout_models.tracking_uri)


def test_resolve_versions_and_aliases(
    registry: ModelRegistry, rollout_models: RolloutModels
) -> None:
    name = rollout_models.name
    candidate = rollout_models.alias("adapter-candidate", "2")
    assert registry.resolve(rollout_models.uri("3")) == (name, "3")
    assert registry.resolve(candidate) == (name, "2")
    with pytest.raises(RegistryError, match="cannot resolve"):
        registry.resolve(f"models:/{name}@nope")
    with pytest.raises(RegistryError):
        registry.resolve("not-a-registry-uri")


def test_contract_gate_passes_the_same_features(
    registry: ModelRegistry, rollout_models: RolloutModels
) -> None:
    assert registry.check(rollout_models.uri("1"), rollout_models.uri("2")).compatible


def test_contract_gate_refuses_a_removed_feature(
    registry: ModelRegistry, rollout_models: RolloutModels
) -> None:
    stable = registry.contract(rollout_models.uri("1"))
    check = registry.check(rollout_models.uri("1"), rollout_models.uri("3"))
    assert not check.compatible
    assert check.issues == (f"feature {stable.features[0].name!r} removed",)


def test_contract_of_a_local_model_folder(
    registry: ModelRegistry, rollout_models: RolloutModels, tmp_path: Path
) -> None:
    contract = registry.contract(rollout_models.uri("1"))
    assert isinstance(contract, ModelContract)
    (tmp_path / "model").mkdir()
    contract.save(tmp_path / "model" / CONTRACT_FILE)
    assert registry.contract(str(tmp_path)) == contract
    with pytest.raises(RegistryError):
        registry.contract(str(tmp_path / "empty"))


def test_alias_moves_and_the_decision_record_is_tagged(
    registry: ModelRegistry, rollout_models: RolloutModels
) -> None:
    name = rollout_models.name
    rollout_models.alias("adapter-champion", "1")
    registry.move_alias(name, "adapter-champion", "2")
    assert "adapter-champion" in registry.aliases(name, "2")
    assert "adapter-champion" not in registry.aliases(name, "1")
    record = {"rollout.verdict": "rolled_back", "rollout.reason": "FailedChecks"}
    registry.tag(name, "3", record)
    tags = client(registry.tracking_uri).get_model_version(name, "3").tags
    assert {k: tags[k] for k in record} == record


def test_tags_already_on_the_version_are_not_written_again(
    registry: ModelRegistry, rollout_models: RolloutModels
) -> None:
    """A repeated decision (the status write failed after the tags) writes no tag; a
    changed one writes only what differs, and the version ends with the same tags."""
    name, store = rollout_models.name, client(registry.tracking_uri)
    first = {"rollout.verdict": "promoted", "rollout.reason": "Promoted", "rollout.analyses": "2"}
    registry.tag(name, "2", first)
    assert registry.tag(name, "2", first) == 0
    second = {**first, "rollout.analyses": "3", "rollout.stable_version": "1"}
    assert registry.tag(name, "2", second) == 2
    tags = store.get_model_version(name, "2").tags
    assert {k: tags[k] for k in second} == second


def test_a_store_error_on_a_write_is_a_registry_error(
    registry: ModelRegistry, rollout_models: RolloutModels
) -> None:
    """The handler retries ``RegistryError`` at the next tick; anything else would wait
    for kopf's default minute."""
    name = rollout_models.name
    with pytest.raises(RegistryError, match="cannot tag"):
        registry.tag(name, "999", {"rollout.verdict": "promoted"})
    with pytest.raises(RegistryError, match="cannot move"):
        registry.move_alias(name, "champion", "999")


def test_contracts_warmed_ahead_serve_the_check_without_a_load(
    rollout_models: RolloutModels,
) -> None:
    """``warm`` loads the pinned versions' contracts from the real store on its pool; the
    check then reads them from the cache, with the verdict it gives without warming."""
    from concurrent.futures import ThreadPoolExecutor

    fresh = ModelRegistry(rollout_models.tracking_uri)
    pool = ThreadPoolExecutor(max_workers=2)
    uris = [rollout_models.uri("1"), rollout_models.uri("3")]
    assert fresh.warm(uris, pool) == 2
    pool.shutdown(wait=True)
    assert fresh._contracts.loads == 2
    check = fresh.check(rollout_models.uri("1"), rollout_models.uri("3"))
    assert fresh._contracts.loads == 2  # both read from the cache
    assert check == ModelRegistry(rollout_models.tracking_uri).check(*uris)
    assert not check.compatible
