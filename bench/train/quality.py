"""Holdout quality of the default training settings on each bundled dataset (seed 42).

Run: python bench/train/quality.py   (results in bench/results/training_quality.*)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.common import write_results
from services.core.logs import configure_logging
from services.trainer.pipeline import train
from services.trainer.settings import TrainerSettings

DATASETS = {"default": 0.94, "lending_club": 0.74, "credit_data": 0.87}  # issue targets
COLUMNS = [
    "dataset",
    "roc_auc",
    "target",
    "pr_auc",
    "ks",
    "brier",
    "precision",
    "recall",
    "f1",
    "threshold",
    "imbalance",
    "seconds",
]


def main() -> None:
    configure_logging("WARNING")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for dataset, target in DATASETS.items():
            settings = TrainerSettings(
                dataset=dataset, model_name=dataset, mlflow_tracking_uri=f"sqlite:///{tmp}/m.db"
            )
            s = train(settings)
            row = {
                "dataset": dataset,
                "target": f">= {target}",
                "imbalance": s.imbalance["chosen"],
                "seconds": s.seconds,
            }
            row |= {k: round(s.metrics[k], 4) for k in COLUMNS if k in s.metrics}
            print(row, flush=True)
            rows.append(row)
    write_results(
        "training_quality",
        rows,
        COLUMNS,
        "Holdout (20 %, stratified, seed 42) metrics with default trainer settings.",
    )


if __name__ == "__main__":
    main()
