"""The peer measured beside us: MLServer (XGBoost runtime, V2 REST) serving the same booster.

MLServer lives in its own venv (``scripts/bench/mlserver-venv.sh``: pinned mlserver and
mlserver-xgboost, xgboost pinned to the version of our env) so it never changes our
dependencies. Its model folder holds the very ``booster.ubj`` our service loads (copied
from the MLflow model the benchmark trains) as ``model.ubj``. Settings: MLServer's
defaults except the ports, ``parallel_workers: 0`` (one process: inference on the server's
own event loop, like ours; ``--mlserver-workers 1``, MLServer's default, would add a
worker process and IPC per request, but here its worker dies at start, "There is no
current event loop in thread 'MainThread'", so the server never gets ready) and
``debug: false`` (no access log line per request; our servers log none either).
``OMP_NUM_THREADS=1``: one core, like the booster our service loads with ``nthread=1``.
The request is the applicant encoded as our service encodes it (``RecordEncoder``), one
FP32 V2 input, answered by the runtime's default output (``predict``: the probability).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loadgen import Server

from services.core.encoding import RecordEncoder
from services.core.model_store import BOOSTER_FILE, LoadedModel
from tests.support.processes import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".cache" / "peers" / "mlserver"
SCRIPT = REPO / "scripts" / "bench" / "mlserver-venv.sh"
MODEL_NAME = "credit"
INFER_PATH = f"/v2/models/{MODEL_NAME}/infer"


def ensure_venv() -> str:
    """Build (or reuse) the MLServer venv; its ``mlserver`` version."""
    subprocess.run([str(SCRIPT)], check=True, env={**os.environ, "PYTHON": "python3"})
    out = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", "import mlserver; print(mlserver.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def export_booster(model_uri: str, tracking_uri: str, dest: Path) -> Path:
    """Copy the booster file of the MLflow model at ``model_uri`` to ``dest/model.ubj``."""
    import mlflow.artifacts

    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri))
    source = next(folder.rglob(BOOSTER_FILE))
    dest.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(source, dest / "model.ubj"))


def v2_body(rows: Sequence[Sequence[float]]) -> str:
    """A V2 inference request of encoded rows (one FP32 input); the runtime's default
    output, ``predict``."""
    data = [float(v) for row in rows for v in row]
    if any(math.isnan(v) for v in data):
        raise ValueError("JSON carries no NaN: the peer's rows must have no missing value")
    width = len(rows[0])
    inputs = [{"name": "input-0", "shape": [len(rows), width], "datatype": "FP32", "data": data}]
    return json.dumps({"inputs": inputs})


def v2_bodies(model: LoadedModel, singles: list[str], bulk: str) -> tuple[list[str], str]:
    """The benchmark's applicants (JSON bodies of our API) as V2 requests."""
    encoder = RecordEncoder(model.contract.features)
    one = [v2_body(encoder.encode([json.loads(s)]).tolist()) for s in singles]
    many = v2_body(encoder.encode(json.loads(bulk)["applicants"]).tolist())
    return one, many


def default_probability(answer: dict[str, Any]) -> list[float]:
    """P(default) of each row of a V2 ``predict`` answer: the runtime loads a
    ``binary:logistic`` booster through ``XGBRegressor`` (its first try), whose ``predict``
    is the booster's own output, the probability (``predict_proba`` is refused)."""
    return [float(v) for v in answer["outputs"][0]["data"]]


class MLServerPeer(Server):
    """``mlserver start`` on a model folder, pinned to ``core`` like our apps."""

    def __init__(self, booster: Path, core: str, workers: int = 0) -> None:
        super().__init__("mlserver", {"OMP_NUM_THREADS": "1"}, core)
        self.folder = Path(tempfile.mkdtemp(prefix="bench-mlserver-"))
        model_dir = self.folder / MODEL_NAME
        model_dir.mkdir()
        shutil.copyfile(booster, model_dir / "model.ubj")
        settings = {
            "host": "127.0.0.1",
            "http_port": self.port,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            "parallel_workers": workers,
            "debug": False,
        }
        (self.folder / "settings.json").write_text(json.dumps(settings))
        model = {
            "name": MODEL_NAME,
            "implementation": "mlserver_xgboost.XGBoostModel",
            "parameters": {"uri": "./model.ubj"},
        }
        (model_dir / "model-settings.json").write_text(json.dumps(model))

    def start(self) -> None:
        cmd = ["taskset", "-c", self.core, str(VENV / "bin" / "mlserver"), "start", "."]
        env = {k: v for k, v in self.env.items() if k != "PYTHONPATH"}
        self.proc = subprocess.Popen(cmd, env=env, cwd=self.folder)
        wait_for_port(self.port, timeout=120)
        ready = f"{self.url}/v2/models/{MODEL_NAME}/ready"
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlserver exited with {self.proc.returncode} before ready")
            try:
                with urllib.request.urlopen(ready, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.folder, ignore_errors=True)
