"""Train small real models into a temporary MLflow store for tests (no binaries committed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.trainer.pipeline import TrainSummary, train
from services.trainer.settings import TrainerSettings


@dataclass(frozen=True)
class TrainedModel:
    tracking_uri: str
    summary: TrainSummary

    @property
    def uri(self) -> str:
        return self.summary.uri


def tracking_uri_for(folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def train_quick(tracking_uri: str, dataset: str = "default", **overrides: object) -> TrainedModel:
    """A real training run with test-friendly speed (3 folds, one imbalance strategy)."""
    options: dict[str, object] = {
        "dataset": dataset,
        "mlflow_tracking_uri": tracking_uri,
        "model_name": f"{dataset}-model",
        "experiment": f"test-{dataset}",
        "cv_folds": 3,
        "imbalance": "scale_pos_weight",
        "nthread": 2,
    }
    options.update(overrides)
    return TrainedModel(tracking_uri, train(TrainerSettings(**options)))  # type: ignore[arg-type]
