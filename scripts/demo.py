"""`make demo`: the platform's story on one machine with embedded defaults.

1. train the demo model on the bundled Default data into the local MLflow store
   (`.mlflow/` in the repo), register it with its contract, print the holdout metrics;
2. serve `models:/credit-default@champion` with the real inference service, score a low-,
   a medium- and a high-risk applicant, show an excerpt of `/metrics`;
3. score 100,000 synthetic applicants through the batch service: a local `redis-server`
   when one is installed (else the in-process fallback, which says so), a burst worker,
   a progress bar and a summary.
Everything started here is stopped at the end, Ctrl-C included.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.core.logs import configure_logging
from services.core.settings import DEFAULT_TRACKING_URI, REPO_ROOT
from services.trainer.pipeline import TrainSummary, train
from services.trainer.settings import TrainerSettings
from tests.support.processes import free_port, stop, wait_for_port

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


CHAMPION = "models:/credit-default@champion"
APPLICANTS = {
    "low risk": {"student": "No", "balance": 300.0, "income": 52000.0},
    "medium risk": {"student": "Yes", "balance": 1650.0, "income": 18000.0},
    "high risk": {"student": "No", "balance": 2300.0, "income": 31000.0},
}


@contextmanager
def process(args: list[str], env: dict[str, str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, timeout=90)
        yield proc
    finally:
        stop(proc)


def http(url: str, body: dict[str, object] | None = None) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read().decode()


def step_serve() -> None:
    banner("2. Serve the champion over HTTP and score three applicants")
    port = free_port()
    env = {
        "MODEL_URI": CHAMPION,
        "MLFLOW_TRACKING_URI": DEFAULT_TRACKING_URI,
        "INFERENCE_LOG_LEVEL": "WARNING",
        "INFERENCE_PORT": str(port),
    }
    args = [sys.executable, "-m", "services.inference", "--port", str(port)]
    with process(args, env, port):
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if http(f"{base}/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        for label, applicant in APPLICANTS.items():
            print(f"\n{label}:  POST {base}/api/v1/predict  {json.dumps(applicant)}")
            print("  ->", http(f"{base}/api/v1/predict", applicant)[1])
        metrics = http(f"{base}/metrics")[1].splitlines()
        wanted = (
            "inference_predictions_total{",
            "http_requests_total{",
            "inference_score_psi{",
            "inference_drift_detected{",
            "inference_model_info{",
        )
        print("\n/metrics excerpt:")
        for line in metrics:
            if line.startswith(wanted):
                print("  " + line)


@contextmanager
def demo_redis() -> Iterator[str]:
    if not shutil.which("redis-server"):
        yield "redis://127.0.0.1:1/0"  # unreachable: the batch demo falls back in-process
        return
    port = free_port()
    with (
        tempfile.TemporaryDirectory() as tmp,
        process(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                tmp,
            ],
            {},
            port,
        ),
    ):
        yield f"redis://127.0.0.1:{port}/0"


def step_batch(rows: int = 100_000) -> None:
    banner(f"3. Score {rows:,} synthetic applicants through the batch job queue")
    storage = REPO_ROOT / ".cache" / "demo" / "batch"
    with demo_redis() as redis_url:
        env = {
            **os.environ,
            "MODEL_URI": CHAMPION,
            "MLFLOW_TRACKING_URI": DEFAULT_TRACKING_URI,
            "REDIS_URL": redis_url,
            "BATCH_STORAGE_DIR": str(storage),
            "BATCH_LOG_LEVEL": "WARNING",
        }
        subprocess.run(
            [sys.executable, "-m", "services.batch", "demo", "--rows", str(rows)],
            env=env,
            check=True,
        )


def main() -> int:
    step_train()
    step_serve()
    step_batch()
    banner("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
