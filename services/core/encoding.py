"""Turn feature values into the float matrix the booster and the drift monitor read.

Numeric features pass through; a categorical feature becomes the index of its level in
the contract (the booster was trained on exactly these codes), ``-1`` for a level the
contract does not know, and NaN for a missing value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from services.core.contract import FeatureSpec

if TYPE_CHECKING:  # pandas (~0.6 s to import) only for frames: inference encodes records
    import pandas as pd

UNSEEN = -1.0
COLUMNWISE_FROM = 16  # RecordEncoder switches to column-wise encoding from this many rows


def encode_frame(features: Sequence[FeatureSpec], frame: pd.DataFrame) -> np.ndarray:
    """Encode the feature columns of ``frame`` into a (rows, features) float32 matrix."""
    import pandas as pd

    out = np.empty((len(frame), len(features)), dtype=np.float32)
    for j, spec in enumerate(features):
        column = frame[spec.name]
        if spec.is_categorical:
            codes = level_codes(column, spec.levels or [])
            known = codes >= 0
            missing = column.isna().to_numpy()
            out[:, j] = np.where(known, codes, np.where(missing, np.nan, UNSEEN))
        else:
            out[:, j] = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
    return out


def level_codes(column: pd.Series, levels: Sequence[str]) -> np.ndarray:
    """Per value: the index of its level in ``levels`` as text, -1 if unknown or missing.

    A pandas categorical column (as Arrow dictionary columns arrive) is recoded through its
    few categories instead of converting every value to a string.
    """
    import pandas as pd

    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = pd.Index(column.cat.categories.astype("string"))
        lookup = np.append(pd.Categorical(categories, categories=levels).codes, -1)
        return lookup[column.cat.codes.to_numpy()]  # code -1 (missing) picks the appended -1
    return np.asarray(pd.Categorical(column.astype("string"), categories=levels).codes)


def encode_records(
    features: Sequence[FeatureSpec], records: Sequence[Mapping[str, Any]]
) -> np.ndarray:
    """Encode already-validated records (dicts) without building a DataFrame."""
    return RecordEncoder(features).encode(records)


class RecordEncoder:
    """``encode_records`` with the level lookups built once, for servers that encode per
    request. ``keys`` names the record key of each feature when it is not the feature name
    (e.g. the attribute names of a generated request model)."""

    def __init__(self, features: Sequence[FeatureSpec], keys: Sequence[str] | None = None) -> None:
        names = list(keys) if keys is not None else [spec.name for spec in features]
        if len(names) != len(features):
            raise ValueError("one key per feature is needed")
        self.width = len(features)
        self.keys = names  # record key of each feature, in contract order
        self.columns = [
            (
                key,
                {lvl: float(i) for i, lvl in enumerate(spec.levels or [])}
                if spec.is_categorical
                else None,
            )
            for key, spec in zip(names, features, strict=True)
        ]

    def encode(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        if len(records) < COLUMNWISE_FROM:  # a few rows: one pass, least overhead
            rows = [
                [_encode_value(record.get(key), codes) for key, codes in self.columns]
                for record in records
            ]
            return np.array(rows, dtype=np.float32).reshape(len(rows), self.width)
        out = np.empty((len(records), self.width), dtype=np.float32)
        for j, (key, codes) in enumerate(self.columns):  # many rows: numpy per column
            values = [record.get(key) for record in records]
            if codes is None:
                out[:, j] = np.array(values, dtype=np.float64)  # None -> NaN
            else:
                out[:, j] = [_encode_value(value, codes) for value in values]
        return out


def _encode_value(value: Any, codes: dict[str, float] | None) -> Any:
    if value is None:
        return np.nan
    if codes is not None:
        return codes.get(str(value), UNSEEN)
    return value


def to_training_frame(features: Sequence[FeatureSpec], frame: pd.DataFrame) -> pd.DataFrame:
    """A DataFrame with categoricals as pandas Categoricals in contract level order."""
    import pandas as pd

    data = {}
    for spec in features:
        column = frame[spec.name]
        if spec.is_categorical:
            data[spec.name] = pd.Categorical(column.astype("string"), categories=spec.levels)
        else:
            data[spec.name] = pd.to_numeric(column, errors="coerce").astype(np.float64)
    return pd.DataFrame(data, index=frame.index)
