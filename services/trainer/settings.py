"""Trainer settings (env prefix ``TRAINER_``; every field is also a CLI flag)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.core.settings import ServiceSettings


class TrainerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINER_", extra="ignore", populate_by_name=True)

    dataset: str = Field(
        "default", description="bundled dataset config name or path to a YAML config"
    )
    data_path: Path | None = Field(None, description="CSV to train on instead of the config's file")
    model_name: str = Field("credit-default", description="registered model name in MLflow")
    experiment: str = Field("credit-default", description="MLflow experiment name")
    seed: int = Field(42, description="seed of the split, CV folds, SMOTE and the booster")
    test_size: float = Field(0.2, gt=0, lt=1, description="holdout share (stratified)")
    cv_folds: int = Field(5, ge=2, description="folds for rounds, calibration and imbalance choice")
    imbalance: Literal["auto", "scale_pos_weight", "smote", "none"] = Field(
        "auto", description="class-imbalance strategy; auto compares scale_pos_weight and SMOTE"
    )
    nthread: int = Field(0, ge=0, description="booster threads (0 = all cores)")
    gate_min_roc_auc: float = Field(0.70, description="quality gate: minimum holdout ROC-AUC")
    gate_max_auc_drop: float = Field(
        0.01, description="quality gate: max ROC-AUC below the champion on the same holdout"
    )
    rollout_manifest: Path | None = Field(
        None, description="write a ModelRollout manifest for the new version to this file"
    )


@lru_cache
def get_settings() -> TrainerSettings:
    return TrainerSettings()
