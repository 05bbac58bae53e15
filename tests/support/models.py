"""Train small real models into a temporary MLflow store for tests (no binaries committed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


_kept: dict[str, Any] = {}


def once_per_process(key: str, make: Callable[[], Any]) -> Any:
    """``make()``'s value, made once per process and kept in this module (which outlives a
    pytest session). Under mutmut every mutant's tests run in a new pytest session forked
    from the process that ran the clean session: a session fixture would train and load
    the test model again in each forked mutant process (tens of CPU seconds, beyond
    mutmut's time limit, so a timeout meant nothing); kept here, the fork inherits it.
    In an ordinary run (one session per process) this is the session fixture's value."""
    if key not in _kept:
        _kept[key] = make()
    return _kept[key]
