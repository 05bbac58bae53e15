from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.core.contract import FeatureSpec
from services.core.encoding import UNSEEN, encode_frame, encode_records, to_training_frame

pytestmark = pytest.mark.unit

FEATURES = [
    FeatureSpec(name="home", type="categorical", levels=["own", "rent"], nullable=True),
    FeatureSpec(name="income", type="numeric", nullable=True),
]


def test_frame_and_records_encode_identically() -> None:
    records = [
        {"home": "rent", "income": 10.0},
        {"home": None, "income": None},
        {"home": "cave", "income": 3.5},
    ]
    by_records = encode_records(FEATURES, records)
    by_frame = encode_frame(FEATURES, pd.DataFrame(records))
    np.testing.assert_array_equal(by_records, by_frame)
    assert by_records[0].tolist() == [1.0, 10.0]
    assert np.isnan(by_records[1]).all()
    assert by_records[2, 0] == UNSEEN


def test_training_frame_uses_contract_level_order() -> None:
    frame = to_training_frame(FEATURES, pd.DataFrame({"home": ["rent", "own"], "income": [1, 2]}))
    assert list(frame["home"].cat.categories) == ["own", "rent"]
    assert frame["home"].cat.codes.tolist() == [1, 0]
