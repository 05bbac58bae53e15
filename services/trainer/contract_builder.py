"""Assemble the model contract from the dataset config and what training learned."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import xgboost as xgb

from services.core.contract import Calibration, Histogram, ModelContract, RiskBand
from services.core.datasets import DatasetConfig
from services.core.encoding import encode_frame
from services.core.psi import categorical_histogram, numeric_histogram


def default_risk_bands(threshold: float) -> list[RiskBand]:
    """low < t/2 <= medium < t <= high < 2t <= very_high (t = decision threshold)."""
    cuts = [("low", threshold / 2), ("medium", threshold), ("high", 2 * threshold)]
    bands = [RiskBand(name=n, upper=u) for n, u in cuts if u < 1.0]
    return [*bands, RiskBand(name="very_high", upper=1.0)]


def reference_histograms(config: DatasetConfig, x_train: pd.DataFrame) -> dict[str, Histogram]:
    encoded = encode_frame(config.features, x_train)
    return {
        spec.name: categorical_histogram(encoded[:, j], spec.levels or [])
        if spec.is_categorical
        else numeric_histogram(encoded[:, j])
        for j, spec in enumerate(config.features)
    }


def build_contract(
    *,
    config: DatasetConfig,
    model_name: str,
    x_train: pd.DataFrame,
    score_sample: np.ndarray,
    threshold: float,
    calibration: Calibration,
    metrics: dict[str, float],
    fingerprint: str,
) -> ModelContract:
    return ModelContract(
        model_name=model_name,
        dataset=config.name,
        target=config.target,
        positive_label=config.positive,
        features=[spec.with_statements() for spec in config.features],
        threshold=threshold,
        risk_bands=default_risk_bands(threshold),
        calibration=calibration,
        reference=reference_histograms(config, x_train),
        score_reference=numeric_histogram(score_sample),
        metrics=metrics,
        data_fingerprint=fingerprint,
        xgboost_version=xgb.__version__,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
