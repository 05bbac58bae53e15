"""Record a training run in MLflow and register the model version with its contract."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import xgboost as xgb
from mlflow.models import infer_signature

from services.core.contract import CONTRACT_FILE, ModelContract
from services.core.model_store import BOOSTER_FILE
from services.core.pyfunc_model import CreditDefaultModel
from services.core.registry import client


@dataclass(frozen=True)
class LoggedVersion:
    run_id: str
    name: str
    version: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def log_and_register(
    *,
    tracking_uri: str,
    experiment: str,
    contract: ModelContract,
    booster: xgb.Booster,
    params: dict[str, object],
    metrics: dict[str, float],
    plots: list[Path],
    example: pd.DataFrame,
    tags: dict[str, str],
) -> LoggedVersion:
    """One MLflow run: params, metrics, plots, contract, pyfunc model; then register it."""
    client(tracking_uri)
    mlflow.set_experiment(experiment)
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(tags=tags) as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.log_metrics(metrics)
        for plot in plots:
            mlflow.log_artifact(str(plot), artifact_path="plots")
        contract_path = contract.save(Path(tmp) / CONTRACT_FILE)
        mlflow.log_artifact(str(contract_path))
        booster_path = Path(tmp) / BOOSTER_FILE
        booster.save_model(str(booster_path))
        model = CreditDefaultModel()
        output = pd.DataFrame({"probability": [0.5], "prediction": [1], "risk_band": ["high"]})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=model,
            artifacts={"booster": str(booster_path), "contract": str(contract_path)},
            signature=infer_signature(example, output),
            input_example=example,
            registered_model_name=contract.model_name,
        )
        version = str(info.registered_model_version)
        return LoggedVersion(run.info.run_id, contract.model_name, version)
