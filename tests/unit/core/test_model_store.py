"""The model store refuses a model that cannot serve: a booster whose features differ from
its contract, or one whose probe prediction is not finite. Real tiny boosters, no mocks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb

from services.core import model_store
from services.core.contract import CONTRACT_FILE, ModelContract, RiskBand
from services.core.model_store import (
    BOOSTER_FILE,
    LoadedModel,
    ModelGone,
    ModelLoadError,
    _does_not_exist,
    load_folder,
    load_model,
)
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


# ---------------------------------------------------------------- mutation run 5 (mut21d)
def loaded(tmp_path: Path, **kw: Any) -> LoadedModel:
    contract = make_contract()
    tmp_path.mkdir(parents=True, exist_ok=True)
    folder = model_folder(tmp_path, contract, tiny_booster(contract.feature_names))
    return load_folder(str(folder), kw.pop("name", None), "local", folder, kw.pop("nthread", 1))


ROWS = np.array([[0.0, 80.0, 10.0], [1.0, 20.0, np.nan], [0.0, 55.0, 3.0]], dtype=np.float32)


def test_a_loaded_model_says_where_it_came_from_and_uses_the_given_threads(
    tmp_path: Path,
) -> None:
    unnamed = loaded(tmp_path / "a", nthread=3)
    assert (unnamed.uri, unnamed.name) == (str(tmp_path / "a" / "model"), "m")  # contract's
    config = json.loads(unnamed.booster.save_config())
    assert config["learner"]["generic_param"]["nthread"] == "3"
    assert loaded(tmp_path / "b", name="credit").name == "credit"  # the registry's name


def test_a_non_finite_probe_is_refused_with_that_reason(tmp_path: Path) -> None:
    contract = make_contract()
    broken = nan_leaves(tiny_booster(contract.feature_names))
    with pytest.raises(ModelLoadError) as refused:
        load(model_folder(tmp_path, contract, broken))
    assert str(refused.value) == "probe prediction is not finite"


def at(model: LoadedModel, threshold: float, uppers: list[float]) -> LoadedModel:
    """``model`` with another threshold and band bounds (unvalidated: any bound)."""
    bands = [RiskBand(name=f"b{i}", upper=u) for i, u in enumerate(uppers)]
    contract = model.contract.model_copy(update={"threshold": threshold, "risk_bands": bands})
    return LoadedModel(model.uri, model.name, model.version, contract, model.booster)


def test_a_probability_at_the_threshold_is_positive_and_a_band_bound_belongs_above(
    tmp_path: Path,
) -> None:
    model = loaded(tmp_path)
    p = float(model.probabilities(ROWS[:1])[0])
    edge = at(model, p, [p / 2, p, 1.0])  # p is the middle band's upper bound: band 2
    predicted = edge.predict(ROWS[:1])
    assert predicted.label.dtype == np.int8
    assert predicted.label.tolist() == [1]
    assert predicted.band.tolist() == ["b2"]
    assert edge.band_codes(np.array([p])).tolist() == [2]
    assert edge.predict_one(ROWS[:1]) == (p, 1, "b2")
    # above every bound (a saturated probability): the last band, never past it
    top = at(model, p, [p / 2, p])
    assert top.band_codes(np.array([p])).tolist() == [1]
    assert top.predict_one(ROWS[:1]) == (p, 1, "b1")


def categorical_booster(contract: ModelContract) -> xgb.Booster:
    """A booster whose only split is categorical on ``student`` (codes 0/1)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 100, size=(400, 3))
    x[:, 0] = rng.integers(0, 2, size=400)
    y = (x[:, 0] == 1).astype(int)
    dtrain = xgb.DMatrix(
        x,
        label=y,
        feature_names=contract.feature_names,
        feature_types=["c", "q", "q"],
        enable_categorical=True,
    )
    params = {"objective": "binary:logistic", "max_depth": 1, "max_cat_to_onehot": 1}
    return xgb.train(params, dtrain, 2)


def test_a_matrix_reads_categorical_codes_as_categories(tmp_path: Path) -> None:
    contract = make_contract()
    model = load(model_folder(tmp_path, contract, categorical_booster(contract)))
    rows = np.array([[0.0, 10.0, 1.0], [1.0, 10.0, 1.0]], dtype=np.float32)
    matrix = model.matrix(rows)
    assert matrix.feature_types == ["c", "q", "q"]
    direct = model.probabilities(rows)
    np.testing.assert_array_equal(model.probabilities(matrix), direct)
    assert direct[1] > direct[0]  # Yes (code 1) defaults more


def test_contributions_of_many_rows_equal_those_of_each_row(tmp_path: Path) -> None:
    model = loaded(tmp_path)
    each = model.contributions(ROWS)
    assert each.shape == (3, 4)
    repeated = np.repeat(ROWS, 10, axis=0)  # 30 rows, 3 distinct: grouped
    grouped, inverse = model.grouped_contributions(repeated)
    assert inverse is not None
    assert len(grouped) <= 3
    np.testing.assert_array_equal(model.contributions_of_many(repeated), np.repeat(each, 10, 0))
    distinct = ROWS[:2]  # two rows the trees treat differently
    every, none = model.grouped_contributions(distinct)
    assert none is None  # nearly all rows differ: not grouped
    np.testing.assert_array_equal(every, model.contributions(distinct))
    np.testing.assert_array_equal(model.contributions_of_many(distinct), every)


def test_load_model_of_a_local_folder_and_its_refusals(tmp_path: Path) -> None:
    contract = make_contract()
    folder = model_folder(tmp_path, contract, tiny_booster(contract.feature_names))
    model = load_model(str(folder), "http://unused:5000", nthread=2)
    assert (model.uri, model.name, model.version) == (str(folder), "m", "local")
    assert json.loads(model.booster.save_config())["learner"]["generic_param"]["nthread"] == "2"
    plain = xgb.Booster(model_file=str(folder / BOOSTER_FILE))
    default = load_model(str(folder), "http://unused:5000")  # nthread 0: the booster's own
    assert default.booster.save_config() == plain.save_config()
    with pytest.raises(ModelGone, match="no model folder at"):
        load_model(str(tmp_path / "nowhere"), "http://unused:5000")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError) as missing:  # a ModelLoadError passes through as it is
        load_model(str(empty), "http://unused:5000")
    assert str(missing.value) == f"{CONTRACT_FILE} not found under {empty}"
    (empty / CONTRACT_FILE).write_text("{not json")
    with pytest.raises(ModelLoadError) as broken:  # any other failure: wrapped, not gone
        load_model(str(empty), "http://unused:5000")
    assert type(broken.value) is ModelLoadError
    cause = type(broken.value.__cause__).__name__
    assert str(broken.value).startswith(f"cannot load model {str(empty)!r}: {cause}: ")


class _Gone(Exception):
    error_code = "RESOURCE_DOES_NOT_EXIST"


class _Other(Exception):
    error_code = "INTERNAL_ERROR"


def test_only_mlflow_s_does_not_exist_answer_means_gone() -> None:
    assert _does_not_exist(_Gone())
    assert not _does_not_exist(_Other())
    assert not _does_not_exist(ValueError("x"))


def test_a_registry_model_is_named_by_the_registry_and_gone_when_mlflow_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry half of ``load_model`` with the download replaced (its MLflow calls
    are reached by the integration tests)."""
    contract = make_contract()
    folder = model_folder(tmp_path, contract, tiny_booster(contract.feature_names))
    asked: list[tuple[str, str]] = []

    def downloaded(uri: str, tracking_uri: str) -> tuple[str, str, Path]:
        asked.append((uri, tracking_uri))
        return "credit-default", "3", folder

    monkeypatch.setattr(model_store, "_materialise", downloaded)
    model = load_model("models:/credit-default@champion", "http://mlflow:5000")
    assert asked == [("models:/credit-default@champion", "http://mlflow:5000")]
    assert (model.name, model.version) == ("credit-default", "3")

    def deleted(uri: str, tracking_uri: str) -> tuple[str, str, Path]:
        raise _Gone("version 3 was deleted")

    monkeypatch.setattr(model_store, "_materialise", deleted)
    with pytest.raises(ModelGone, match="_Gone: version 3 was deleted"):
        load_model("models:/credit-default/3", "http://mlflow:5000")
