"""The training pipeline: validate → split → fit → calibrate → evaluate → log → gate."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from loguru import logger
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from services.core.contract import ModelContract, compatibility_issues
from services.core.datasets import DatasetConfig, fingerprint, load_config, load_dataset
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel, ModelLoadError, load_model
from services.core.registry import aliases_of, set_alias, tag_version
from services.trainer.contract_builder import build_contract
from services.trainer.gate import GateResult, quality_gate
from services.trainer.metrics import classification_metrics, save_plots
from services.trainer.modeling import (
    BoosterParams,
    f1_threshold,
    fit_with_imbalance,
    margins,
    platt_calibration,
)
from services.trainer.settings import TrainerSettings
from services.trainer.tracking import log_and_register


@dataclass
class TrainSummary:
    model_name: str
    version: str
    uri: str
    run_id: str
    dataset: str
    aliases: list[str]
    gate: dict[str, Any]
    imbalance: dict[str, Any]
    metrics: dict[str, float]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def train(
    settings: TrainerSettings, data: tuple[pd.DataFrame, np.ndarray] | None = None
) -> TrainSummary:
    """Train, register and gate one model version; ``data`` overrides the config's CSV."""
    started = time.perf_counter()
    config = load_config(settings.dataset)
    x, y = data if data is not None else load_dataset(config, settings.data_path)
    logger.info("training {} on {} rows ({:.2%} positive)", config.name, len(y), float(np.mean(y)))
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=settings.test_size, stratify=y, random_state=settings.seed
    )
    params = BoosterParams(**{**config.training, "nthread": settings.nthread})  # type: ignore[arg-type]
    fit = fit_with_imbalance(
        config.features,
        x_train,
        y_train,
        params,
        settings.seed,
        settings.imbalance,
        settings.cv_folds,
    )
    calibration = platt_calibration(fit.oof_margin, y_train)
    threshold = f1_threshold(calibration.apply(fit.oof_margin), y_train)
    proba_test = calibration.apply(margins(fit.booster, config.features, x_test))
    metrics = classification_metrics(y_test, proba_test, threshold)
    contract = build_contract(
        config=config,
        model_name=settings.model_name,
        x_train=x_train,
        score_sample=proba_test,
        threshold=threshold,
        calibration=calibration,
        metrics=metrics,
        fingerprint=fingerprint(x, y),
    )
    champion = _load_alias(settings, "champion")
    gate = quality_gate(
        metrics["roc_auc"],
        _champion_auc(champion, contract, x_test, y_test),
        settings.gate_min_roc_auc,
        settings.gate_max_auc_drop,
    )
    with tempfile.TemporaryDirectory() as tmp:
        logged = log_and_register(
            tracking_uri=settings.mlflow_tracking_uri,
            experiment=settings.experiment,
            contract=contract,
            booster=fit.booster,
            params={
                **asdict(params),
                "dataset": config.name,
                "imbalance": fit.strategy,
                "rounds": fit.rounds,
                "seed": settings.seed,
                "rows": len(y),
            },
            metrics={f"test_{k}": v for k, v in metrics.items()},
            plots=save_plots(y_test, proba_test, Path(tmp)),
            example=_example(config, x_train),
            tags={"dataset": config.name, "imbalance": fit.strategy},
        )
    _apply_gate(settings, logged.version, gate, champion is None)
    summary = TrainSummary(
        model_name=logged.name,
        version=logged.version,
        uri=logged.uri,
        run_id=logged.run_id,
        dataset=config.name,
        aliases=aliases_of(settings.mlflow_tracking_uri, logged.name, logged.version),
        gate={
            "passed": gate.passed,
            "reasons": gate.reasons,
            "champion_roc_auc": gate.champion_roc_auc,
        },
        imbalance={"chosen": fit.strategy, "cv_pr_auc": fit.comparison, "rounds": fit.rounds},
        metrics={k: round(v, 5) for k, v in metrics.items()},
        seconds=round(time.perf_counter() - started, 2),
    )
    logger.info("registered {} (aliases: {})", logged.uri, summary.aliases or "none")
    return summary


def _example(config: DatasetConfig, x: pd.DataFrame) -> pd.DataFrame:
    """A few complete rows as clients send them (categoricals as plain strings)."""
    rows = x.dropna().head(3)
    rows = (rows if len(rows) else x.head(3)).reset_index(drop=True)
    categorical = [f.name for f in config.features if f.is_categorical]
    return rows.astype(dict.fromkeys(categorical, object))


def _load_alias(settings: TrainerSettings, alias: str) -> LoadedModel | None:
    try:
        return load_model(f"models:/{settings.model_name}@{alias}", settings.mlflow_tracking_uri)
    except ModelLoadError as exc:
        logger.info("no usable {} to compare with ({})", alias, str(exc).splitlines()[0][:200])
        return None


def _champion_auc(
    champion: LoadedModel | None, contract: ModelContract, x_test: pd.DataFrame, y_test: np.ndarray
) -> float | None:
    """The champion's ROC-AUC on the new holdout, or its own recorded one if it cannot score it."""
    if champion is None:
        return None
    same_inputs = champion.contract.dataset == contract.dataset and not compatibility_issues(
        champion.contract, contract
    )
    if not same_inputs:
        return champion.contract.metrics.get("roc_auc")
    proba = champion.probabilities(encode_frame(champion.contract.features, x_test))
    return float(roc_auc_score(y_test, proba))


def _apply_gate(settings: TrainerSettings, version: str, gate: GateResult, first: bool) -> None:
    uri, name = settings.mlflow_tracking_uri, settings.model_name
    tag_version(
        uri,
        name,
        version,
        {
            "quality_gate": "passed" if gate.passed else "failed",
            "quality_gate_reasons": "; ".join(gate.reasons) or "-",
        },
    )
    if not gate.passed:
        logger.warning("version {} failed the quality gate: {}", version, "; ".join(gate.reasons))
        return
    set_alias(uri, name, "challenger", version)
    if first:
        set_alias(uri, name, "champion", version)
