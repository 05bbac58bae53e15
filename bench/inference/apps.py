"""The two apps the inference benchmark compares, as uvicorn factories.

``full_app``: the real service (auth, rate limit, validation, metrics, drift) via
``create_app``. ``bare_app``: the same booster behind one plain FastAPI route per endpoint
that decodes JSON, encodes the features in a Python loop and calls ``inplace_predict``,
with no auth, validation, metrics or drift: the floor the framework itself costs.
Both read ``BENCH_MODEL_URI`` and ``MLFLOW_TRACKING_URI`` from the environment;
``BENCH_SETTINGS`` (JSON) overrides settings of the full app, for ablations.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.core.logs import configure_logging
from services.core.model_store import load_model
from services.inference.app import create_app
from services.inference.settings import InferenceSettings

API_KEY = "bench-key"


def full_app() -> FastAPI:
    configure_logging("WARNING", json=True, service="inference")
    options: dict[str, Any] = {
        "model_uri": os.environ["BENCH_MODEL_URI"],
        "mlflow_tracking_uri": os.environ["MLFLOW_TRACKING_URI"],
        "api_key_hashes": [hashlib.sha256(API_KEY.encode()).hexdigest()],
        "rate_limit": "100000000/minute",  # on (so its cost is measured) but never reached
        "log_level": "WARNING",
    }
    options.update(json.loads(os.environ.get("BENCH_SETTINGS", "{}")))  # ablations
    return create_app(InferenceSettings(**options))


def bare_app() -> FastAPI:
    model = load_model(os.environ["BENCH_MODEL_URI"], os.environ["MLFLOW_TRACKING_URI"], 1)
    booster, features = model.booster, model.contract.features
    codes = [
        {lvl: float(i) for i, lvl in enumerate(f.levels or [])} if f.is_categorical else None
        for f in features
    ]
    names = [f.name for f in features]

    def value(row: dict[str, Any], name: str, lookup: dict[str, float] | None) -> Any:
        raw = row.get(name)
        if raw is None:
            return np.nan
        return lookup.get(raw, -1.0) if lookup is not None else raw

    def encode(rows: list[dict[str, Any]]) -> np.ndarray:
        matrix = [[value(r, n, c) for n, c in zip(names, codes, strict=True)] for r in rows]
        return np.array(matrix, dtype=np.float32)

    app = FastAPI()

    @app.post("/api/v1/predict")
    async def predict(request: Request) -> JSONResponse:
        proba = booster.inplace_predict(encode([await request.json()]))
        return JSONResponse({"probability": float(proba[0])})

    @app.post("/api/v1/predict/bulk")
    async def bulk(request: Request) -> JSONResponse:
        proba = booster.inplace_predict(encode((await request.json())["applicants"]))
        return JSONResponse({"probabilities": np.asarray(proba).tolist()})

    return app
