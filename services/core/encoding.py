"""Turn feature values into the float matrix the booster and the drift monitor read.

Numeric features pass through; a categorical feature becomes the index of its level in
the contract (the booster was trained on exactly these codes), ``-1`` for a level the
contract does not know, and NaN for a missing value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from services.core.contract import FeatureSpec

UNSEEN = -1.0


def encode_frame(features: Sequence[FeatureSpec], frame: pd.DataFrame) -> np.ndarray:
    """Encode the feature columns of ``frame`` into a (rows, features) float32 matrix."""
    out = np.empty((len(frame), len(features)), dtype=np.float32)
    for j, spec in enumerate(features):
        column = frame[spec.name]
        if spec.is_categorical:
            codes = pd.Categorical(column.astype("string"), categories=spec.levels).codes
            known = codes >= 0
            missing = column.isna().to_numpy()
            out[:, j] = np.where(known, codes, np.where(missing, np.nan, UNSEEN))
        else:
            out[:, j] = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
    return out


def encode_records(
    features: Sequence[FeatureSpec], records: Sequence[Mapping[str, Any]]
) -> np.ndarray:
    """Encode already-validated records (dicts) without building a DataFrame."""
    lookup = [
        {level: float(i) for i, level in enumerate(spec.levels or [])} if spec.is_categorical else None
        for spec in features
    ]
    out = np.empty((len(records), len(features)), dtype=np.float32)
    for i, record in enumerate(records):
        for j, spec in enumerate(features):
            value = record.get(spec.name)
            codes = lookup[j]
            if value is None:
                out[i, j] = np.nan
            elif codes is not None:
                out[i, j] = codes.get(str(value), UNSEEN)
            else:
                out[i, j] = value
    return out


def to_training_frame(features: Sequence[FeatureSpec], frame: pd.DataFrame) -> pd.DataFrame:
    """A DataFrame with categoricals as pandas Categoricals in contract level order."""
    data = {}
    for spec in features:
        column = frame[spec.name]
        if spec.is_categorical:
            data[spec.name] = pd.Categorical(column.astype("string"), categories=spec.levels)
        else:
            data[spec.name] = pd.to_numeric(column, errors="coerce").astype(np.float64)
    return pd.DataFrame(data, index=frame.index)
