"""``MarginPredictor``: the margins of ``inplace_predict``, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from services.core.fast_margin import MarginPredictor

pytestmark = pytest.mark.unit


def booster(categorical: bool = False) -> tuple[xgb.Booster, np.ndarray]:
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 10, size=(2000, 3)).astype(np.float32)
    x[::6, 1] = np.nan
    if categorical:
        x[:, 2] = rng.integers(0, 4, size=2000)
    types = ["q", "q", "c" if categorical else "q"]
    data = xgb.DMatrix(x, label=(x[:, 0] > 5), feature_types=types, enable_categorical=True)
    params = {"objective": "binary:logistic", "nthread": 1, "max_depth": 4}
    return xgb.train(params, data, 40), x


@pytest.mark.parametrize("categorical", [False, True])
@pytest.mark.parametrize("rows", [1, 3, 64, 1000])
def test_margins_are_those_of_inplace_predict_bit_for_bit(categorical: bool, rows: int) -> None:
    model, x = booster(categorical)
    got = MarginPredictor(model)(x[:rows])
    expected = np.asarray(model.inplace_predict(x[:rows], predict_type="margin"))
    assert got.dtype == expected.dtype == np.float32
    assert got.shape == expected.shape
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_other_inputs_take_inplace_predict_itself() -> None:
    model, x = booster()
    predict = MarginPredictor(model)
    for data in (x[:5].astype(np.float64), np.asfortranarray(x[:5]), x[:5, ::-1][:, ::-1]):
        expected = np.asarray(model.inplace_predict(data, predict_type="margin"))
        assert np.array_equal(predict(data), expected)
    with pytest.raises(ValueError, match="Feature shape mismatch"):  # the wrapper checks it
        predict(x[:5, :2].copy())


def test_the_result_is_not_overwritten_by_the_next_call() -> None:
    model, x = booster()
    predict = MarginPredictor(model)
    first = predict(x[:1])
    kept = first.copy()
    predict(x[1:2])
    assert np.array_equal(first, kept)
