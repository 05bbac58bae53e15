"""The model store refuses a model that cannot serve: a booster whose features differ from
its contract, or one whose probe prediction is not finite. Real tiny boosters, no mocks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from services.core.contract import CONTRACT_FILE, ModelContract
from services.core.model_store import BOOSTER_FILE, ModelLoadError, load_folder
from tests.unit.core.test_contract import make_contract

pytestmark = pytest.mark.unit


def tiny_booster(feature_names: list[str]) -> xgb.Booster:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 100, size=(300, len(feature_names)))
    y = (x[:, 1] > 50).astype(int)
    dtrain = xgb.DMatrix(x, label=y, feature_names=feature_names)
    return xgb.train({"objective": "binary:logistic", "max_depth": 2}, dtrain, 3)


def nan_leaves(booster: xgb.Booster) -> xgb.Booster:
    """The same booster with every leaf of its first tree set to NaN."""
    model = json.loads(booster.save_raw("json"))
    tree = model["learner"]["gradient_booster"]["model"]["trees"][0]
    tree["split_conditions"] = [
        float("nan") if left == -1 else cond
        for cond, left in zip(tree["split_conditions"], tree["left_children"], strict=True)
    ]
    broken = xgb.Booster()
    broken.load_model(bytearray(json.dumps(model).encode()))
    return broken


def model_folder(tmp_path: Path, contract: ModelContract, booster: xgb.Booster) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    contract.save(folder / CONTRACT_FILE)
    booster.save_model(str(folder / BOOSTER_FILE))
    return folder


def load(folder: Path):  # type: ignore[no-untyped-def]
    return load_folder(str(folder), None, "local", folder, nthread=1)


def test_a_matching_finite_model_loads(tmp_path: Path) -> None:
    contract = make_contract()
    model = load(model_folder(tmp_path, contract, tiny_booster(contract.feature_names)))
    assert model.contract == contract
    assert model.version == "local"
    proba = model.probabilities(np.array([[0.0, 80.0, 10.0]], dtype=np.float32))
    assert proba.shape == (1,)
    assert 0.0 < proba[0] < 1.0


def test_booster_whose_features_differ_from_the_contract_is_refused(tmp_path: Path) -> None:
    contract = make_contract()
    reordered = [contract.feature_names[1], contract.feature_names[0], contract.feature_names[2]]
    folder = model_folder(tmp_path, contract, tiny_booster(reordered))
    with pytest.raises(ModelLoadError, match="differ from the contract"):
        load(folder)


def test_booster_with_a_missing_feature_is_refused(tmp_path: Path) -> None:
    contract = make_contract()
    folder = model_folder(tmp_path, contract, tiny_booster(contract.feature_names[:2]))
    with pytest.raises(ModelLoadError, match="differ from the contract"):
        load(folder)


def test_booster_whose_probe_prediction_is_not_finite_is_refused(tmp_path: Path) -> None:
    contract = make_contract()
    broken = nan_leaves(tiny_booster(contract.feature_names))
    assert np.isnan(broken.inplace_predict(np.full((1, 3), np.nan, dtype=np.float32))).all()
    with pytest.raises(ModelLoadError, match="probe prediction is not finite"):
        load(model_folder(tmp_path, contract, broken))


def test_folder_without_a_booster_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    make_contract().save(folder / CONTRACT_FILE)
    with pytest.raises(ModelLoadError, match=f"{BOOSTER_FILE} not found"):
        load(folder)


def test_model_files_are_searched_a_bounded_depth(tmp_path: Path) -> None:
    """A model folder of ``/`` must not walk the disk: three levels at most."""
    from services.core.paths import find_below

    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    for folder in (tmp_path / "a", tmp_path / "a" / "b" / "c"):
        (folder / "contract.json").write_text("{}")
    assert find_below(tmp_path, "contract.json") == [tmp_path / "a" / "contract.json"]
    assert find_below(tmp_path / "a", "contract.json") == [
        tmp_path / "a" / "contract.json",
        tmp_path / "a" / "b" / "c" / "contract.json",
    ]
    assert find_below(tmp_path / "a" / "b" / "c" / "contract.json", "contract.json") == []
