"""Fit the booster: imbalance handling, early stopping, Platt calibration, threshold.

Class imbalance is handled by one of two strategies, compared by k-fold cross-validation
on the training split when ``imbalance="auto"``: XGBoost's ``scale_pos_weight``
(negatives / positives), or SMOTE oversampling (SMOTENC when there are categorical
features; not applicable when values are missing, since SMOTE interpolates). The winner
has the higher out-of-fold PR-AUC (the metric that reflects ranking of the rare class).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, precision_recall_curve
from sklearn.model_selection import StratifiedKFold

from services.core.contract import Calibration, FeatureSpec
from services.core.encoding import to_training_frame


@dataclass(frozen=True)
class BoosterParams:
    eta: float = 0.05
    max_depth: int = 3
    min_child_weight: float = 2.0
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 5.0
    max_rounds: int = 2000
    early_stopping: int = 100
    max_cat_to_onehot: int = 4
    nthread: int = 0

    def xgb_params(self, seed: int) -> dict[str, object]:
        return {
            "objective": "binary:logistic",
            "eval_metric": "auc",
            "tree_method": "hist",
            "eta": self.eta,
            "max_depth": self.max_depth,
            "min_child_weight": self.min_child_weight,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "lambda": self.reg_lambda,
            "max_cat_to_onehot": self.max_cat_to_onehot,
            "seed": seed,
            "nthread": self.nthread,
        }


@dataclass
class FitResult:
    """The final booster, how imbalance was handled, and out-of-fold margins on train."""

    booster: xgb.Booster
    strategy: str
    rounds: int
    oof_margin: np.ndarray  # cross-validated margins of the training rows (for calibration)
    comparison: dict[str, float | str] = field(default_factory=dict)  # strategy -> CV PR-AUC


def _strategy_params(strategy: str, y: np.ndarray) -> dict[str, object]:
    if strategy == "scale_pos_weight":
        return {"scale_pos_weight": float((y == 0).sum() / max((y == 1).sum(), 1))}
    return {}


def _dmatrix(
    features: list[FeatureSpec], x: pd.DataFrame, y: np.ndarray | None = None
) -> xgb.DMatrix:
    return xgb.DMatrix(to_training_frame(features, x), label=y, enable_categorical=True)


def train_booster(
    features: list[FeatureSpec],
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    x_valid: pd.DataFrame,
    y_valid: np.ndarray,
    params: BoosterParams,
    seed: int,
    strategy: str = "scale_pos_weight",
) -> xgb.Booster:
    """One booster with early stopping on the validation rows."""
    x_fit, y_fit = x_train, y_train
    if strategy == "smote":
        x_fit, y_fit = smote_resample(features, x_train, y_train, seed)
    return xgb.train(
        params.xgb_params(seed) | _strategy_params(strategy, y_train),
        _dmatrix(features, x_fit, y_fit),
        num_boost_round=params.max_rounds,
        evals=[(_dmatrix(features, x_valid, y_valid), "valid")],
        early_stopping_rounds=params.early_stopping,
        verbose_eval=False,
    )


def cross_validate(
    features: list[FeatureSpec],
    x: pd.DataFrame,
    y: np.ndarray,
    params: BoosterParams,
    seed: int,
    strategy: str,
    folds: int,
) -> tuple[np.ndarray, int]:
    """Out-of-fold margins and the mean best number of boosting rounds."""
    oof = np.zeros(len(y))
    rounds = []
    for fit_idx, val_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(x, y):
        booster = train_booster(
            features,
            x.iloc[fit_idx],
            y[fit_idx],
            x.iloc[val_idx],
            y[val_idx],
            params,
            seed,
            strategy,
        )
        rounds.append(booster.best_iteration + 1)
        oof[val_idx] = margins(booster, features, x.iloc[val_idx])
    return oof, max(1, round(float(np.mean(rounds))))


def fit_with_imbalance(
    features: list[FeatureSpec],
    x: pd.DataFrame,
    y: np.ndarray,
    params: BoosterParams,
    seed: int,
    imbalance: str = "auto",
    folds: int = 5,
) -> FitResult:
    """Cross-validate each imbalance strategy, keep the best by out-of-fold PR-AUC, refit.

    The final booster is trained on all of ``x`` for the cross-validated number of rounds;
    its calibration and threshold come from the out-of-fold margins, so no row that
    decides them was seen by the model that produced its margin.
    """
    candidates = ["scale_pos_weight", "smote"] if imbalance == "auto" else [imbalance]
    comparison: dict[str, float | str] = {}
    best: tuple[float, str, np.ndarray, int] | None = None
    for strategy in candidates:
        if strategy == "smote" and x.isna().any().any():
            comparison[strategy] = "skipped: missing values (SMOTE interpolates)"
            continue
        oof, rounds = cross_validate(features, x, y, params, seed, strategy, folds)
        score = float(average_precision_score(y, oof))
        comparison[strategy] = round(score, 5)
        if best is None or score > best[0]:
            best = (score, strategy, oof, rounds)
    if best is None:
        raise ValueError(f"no imbalance strategy applicable: {comparison}")
    _, strategy, oof, rounds = best
    x_fit, y_fit = smote_resample(features, x, y, seed) if strategy == "smote" else (x, y)
    booster = xgb.train(
        params.xgb_params(seed) | _strategy_params(strategy, y),
        _dmatrix(features, x_fit, y_fit),
        num_boost_round=rounds,
    )
    return FitResult(booster, strategy, rounds, oof, comparison)


def smote_resample(
    features: list[FeatureSpec], x: pd.DataFrame, y: np.ndarray, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Oversample the minority class (SMOTENC on level codes when there are categoricals)."""
    from imblearn.over_sampling import SMOTE, SMOTENC

    frame = to_training_frame(features, x)
    cats = [i for i, f in enumerate(features) if f.is_categorical]
    codes = pd.DataFrame(
        {f.name: frame[f.name].cat.codes if f.is_categorical else frame[f.name] for f in features}
    )
    sampler = (
        SMOTENC(categorical_features=cats, random_state=seed) if cats else SMOTE(random_state=seed)
    )
    x_res, y_res = sampler.fit_resample(codes, y)
    out = pd.DataFrame(
        {
            f.name: pd.Categorical.from_codes(
                np.asarray(x_res[f.name], dtype=int), categories=f.levels
            )
            if f.is_categorical
            else x_res[f.name]
            for f in features
        }
    )
    return out, np.asarray(y_res)


def margins(booster: xgb.Booster, features: list[FeatureSpec], x: pd.DataFrame) -> np.ndarray:
    return np.asarray(booster.predict(_dmatrix(features, x), output_margin=True), dtype=np.float64)


def platt_calibration(margin: np.ndarray, y: np.ndarray) -> Calibration:
    """Fit p = sigmoid(a * margin + b) on held-out data (undoes scale_pos_weight's bias)."""
    lr = LogisticRegression(C=1e6, max_iter=1000)
    lr.fit(margin.reshape(-1, 1), y)
    return Calibration(method="platt", a=float(lr.coef_[0, 0]), b=float(lr.intercept_[0]))


def f1_threshold(proba: np.ndarray, y: np.ndarray) -> float:
    """The probability cut-off that maximises F1 on held-out data (documented rule)."""
    precision, recall, thresholds = precision_recall_curve(y, proba)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])
