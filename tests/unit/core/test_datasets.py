from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from services.core.datasets import fingerprint, load_config, load_dataset
from services.core.validation import DataValidationError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "rows", "features", "positive_rate"),
    [
        ("default", 10_000, 3, 0.0333),
        ("lending_club", 9_857, 22, 0.0525),
        ("credit_data", 4_454, 13, 0.2815),
    ],
)
def test_bundled_datasets_load_and_validate(
    name: str, rows: int, features: int, positive_rate: float
) -> None:
    x, y = load_dataset(load_config(name))
    assert x.shape == (rows, features)
    assert y.mean() == pytest.approx(positive_rate, abs=1e-4)


def test_kaggle_layout_alias_maps_columns(tmp_path: Path) -> None:
    raw = pd.read_csv(load_config("default").data_path())
    kaggle = pd.DataFrame(
        {
            "Employed": (raw["student"] == "No").astype(int),
            "Bank Balance": raw["balance"],
            "Annual Salary": raw["income"],
            "Defaulted?": (raw["default"] == "Yes").astype(int),
        }
    )
    path = tmp_path / "kaggle.csv"
    kaggle.to_csv(path, index=False)
    x, y = load_dataset(load_config("default_kaggle"), path)
    assert list(x.columns) == ["employed", "balance", "income"]
    assert int(y.sum()) == 333


def test_bad_file_fails_fast_with_report(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("default,student,balance,income\nNo,No,-1,100\nNo,Maybe,5,inf\n")
    with pytest.raises(DataValidationError) as err:
        load_dataset(load_config("default"), path)
    text = str(err.value)
    assert "balance: 1 values below min 0 (rows 1)" in text
    assert "student: 1 unknown levels" in text
    assert "income: 1 infinite values (rows 2)" in text


def test_unknown_config_lists_bundled_ones() -> None:
    with pytest.raises(FileNotFoundError, match="bundled: credit_data, default"):
        load_config("nope")


def test_fingerprint_is_stable_and_sensitive() -> None:
    x, y = load_dataset(load_config("default"))
    assert fingerprint(x, y) == fingerprint(x.copy(), y.copy())
    y2 = y.copy()
    y2[0] = 1 - y2[0]
    assert fingerprint(x, y) != fingerprint(x, y2)
