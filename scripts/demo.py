"""`make demo`: the platform's story on one machine with embedded defaults.

Step 1 trains the demo model on the bundled Default data into the local MLflow store
(`.mlflow/` in the repo), registers it with its contract and prints the holdout metrics.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.core.logs import configure_logging
from services.trainer.pipeline import TrainSummary, train
from services.trainer.settings import TrainerSettings

METRICS = ["roc_auc", "pr_auc", "ks", "brier", "precision", "recall", "f1", "threshold"]


def banner(text: str) -> None:
    print(f"\n=== {text} " + "=" * max(0, 74 - len(text)), flush=True)


def metrics_table(summary: TrainSummary) -> str:
    rows = [f"  {name:<10} {summary.metrics[name]:>8.4f}" for name in METRICS]
    m = summary.metrics
    rows.append(f"  confusion  tn={m['tn']:.0f} fp={m['fp']:.0f} fn={m['fn']:.0f} tp={m['tp']:.0f}")
    return "\n".join(rows)


def step_train() -> TrainSummary:
    banner("1. Train a credit-default model on the bundled Default data (10,000 applicants)")
    settings = TrainerSettings(log_json=False, log_level="WARNING")
    configure_logging(settings.log_level, json=False, service="demo")
    summary = train(settings)
    print(f"registered {summary.uri}  aliases={summary.aliases}  ({summary.seconds:.1f} s)")
    print(
        f"imbalance handling: {summary.imbalance['chosen']} "
        f"(CV PR-AUC {summary.imbalance['cv_pr_auc']})"
    )
    print("holdout metrics (20 % stratified split):")
    print(metrics_table(summary))
    print(f"\nMLflow UI: mlflow ui --backend-store-uri {settings.mlflow_tracking_uri} --port 5000")
    return summary


def main() -> int:
    step_train()
    banner("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
