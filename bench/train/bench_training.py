"""Training benchmark: wall time and peak memory on the bundled 10k rows and on 1,000,000
synthetic rows, each case in its own process (so peak RSS is that case's alone).

Both cases use the same settings (3-fold CV, scale_pos_weight, all cores) into a throwaway
MLflow store; the bundled case also runs the default settings (5 folds, imbalance=auto).
Run: python bench/train/bench_training.py   (results in bench/results/training.*)
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

CASES = {
    "bundled-10k (defaults: 5-fold, auto)": {"rows": 0, "cv_folds": 5, "imbalance": "auto"},
    "bundled-10k": {"rows": 0, "cv_folds": 3, "imbalance": "scale_pos_weight"},
    "synthetic-1M": {"rows": 1_000_000, "cv_folds": 3, "imbalance": "scale_pos_weight"},
}


def run_case(rows: int, cv_folds: int, imbalance: str) -> dict[str, object]:
    from services.core.datasets import load_config
    from services.core.synthetic import ApplicantGenerator
    from services.trainer.pipeline import train
    from services.trainer.settings import TrainerSettings

    with tempfile.TemporaryDirectory() as tmp:
        settings = TrainerSettings(
            mlflow_tracking_uri=f"sqlite:///{tmp}/m.db",
            cv_folds=cv_folds,
            imbalance=imbalance,
            log_level="WARNING",
        )
        data = None
        if rows:
            gen = ApplicantGenerator.from_config(load_config("default"))
            encoded, labels = gen.sample_encoded(rows, seed=1)
            data = (gen.to_frame(encoded), labels)
        started = time.perf_counter()
        summary = train(settings, data)
        seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mib": round(peak_mib),
        "roc_auc": summary.metrics["roc_auc"],
        "rounds": summary.imbalance["rounds"],
    }


def main() -> None:
    if len(sys.argv) > 1:  # child process: one case
        print(json.dumps(run_case(**json.loads(sys.argv[1]))))
        return
    from bench.common import write_results
    from services.core.logs import configure_logging

    configure_logging("WARNING")
    results = []
    for name, case in CASES.items():
        out = subprocess.run(
            [sys.executable, __file__, json.dumps(case)],
            stdout=subprocess.PIPE,
            text=True,
            check=True,
            cwd=ROOT,
        )
        row = {"case": name, **case, **json.loads(out.stdout.strip().splitlines()[-1])}
        print(row, flush=True)
        results.append(row)
    small = next(r for r in results if r["case"] == "bundled-10k")
    big = next(r for r in results if r["case"] == "synthetic-1M")
    for r in results:
        r["time_vs_10k"] = round(float(r["seconds"]) / float(small["seconds"]), 1)
    notes = (
        f"1M rows take {big['time_vs_10k']}x the time of 10k rows with the same settings "
        "(100x the data); peak RSS is per process, model + MLflow logging included."
    )
    write_results(
        "training",
        results,
        [
            "case",
            "rows",
            "cv_folds",
            "imbalance",
            "seconds",
            "time_vs_10k",
            "peak_rss_mib",
            "roc_auc",
            "rounds",
        ],
        notes,
    )


if __name__ == "__main__":
    main()
