"""The inference part of ``make demo``: serve a model, score three applicants, show metrics.

Starts the real service (``python -m services.inference``) on a free port with a demo API
key, waits until ``/readyz`` says the model is loaded, picks a low-, a medium- and a
high-risk applicant from synthetic applicants of the model's dataset, prints each request
and response, and prints an excerpt of ``/metrics``. ``python -m services.inference.demo
MODEL_URI [TRACKING_URI]`` runs it alone.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx

from services.core.datasets import load_config
from services.core.synthetic import ApplicantGenerator
from services.core.web.auth import hash_key

DEMO_KEY = "demo-key"
METRIC_PREFIXES = (
    "http_requests_total",
    "inference_predictions_total",
    "inference_score_psi",
    "inference_drift_detected",
    "inference_model_info",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with code {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise TimeoutError("the service did not become ready")


def pick_applicants(client: httpx.Client, dataset: str, threshold: float) -> dict[str, Any]:
    """The safest and the riskiest of 400 synthetic applicants, and one just below the
    decision threshold."""
    frame = ApplicantGenerator.from_config(load_config(dataset)).sample(400, seed=1)
    rows = [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in r.items()}
        for r in frame.astype(object).to_dict("records")
    ]
    scores = client.post("/api/v1/predict/bulk", json={"applicants": rows}).json()["predictions"]
    proba = [s["probability"] for s in scores]
    middle = min(range(len(rows)), key=lambda i: abs(proba[i] - 0.75 * threshold))
    return {
        "low": rows[proba.index(min(proba))],
        "medium": rows[middle],
        "high": rows[proba.index(max(proba))],
    }


def run_demo(model_uri: str, tracking_uri: str, out: Callable[[str], object] = print) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "MODEL_URI": model_uri,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "INFERENCE_API_KEY_HASHES": json.dumps([hash_key(DEMO_KEY)]),
        "INFERENCE_LOG_LEVEL": "WARNING",
    }
    command = [
        sys.executable,
        "-m",
        "services.inference",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    out(f"$ MODEL_URI={model_uri} python {' '.join(command[1:])}")
    proc = subprocess.Popen(command, env=env)
    try:
        _wait_ready(base, proc)
        with httpx.Client(base_url=base, headers={"X-API-Key": DEMO_KEY}, timeout=30) as client:
            info = client.get("/api/v1/model/info").json()
            picks = pick_applicants(client, info["dataset"], info["threshold"])
            for risk, applicant in picks.items():
                out(f"\n{risk}-risk applicant: POST {base}/api/v1/predict")
                out("  request:  " + json.dumps(applicant))
                answer = client.post("/api/v1/predict", json=applicant).json()
                out("  response: " + json.dumps(answer))
            text = client.get("/metrics").text
        out(f"\nexcerpt of {base}/metrics:")
        for line in text.splitlines():
            if line.startswith(METRIC_PREFIXES):
                out("  " + line)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    from services.core.settings import DEFAULT_TRACKING_URI

    run_demo(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else DEFAULT_TRACKING_URI)
