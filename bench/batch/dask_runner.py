"""The batch benchmark's peer: score a Parquet file with Dask's threaded scheduler.

Runs in Dask's own virtualenv (``scripts/bench/dask-venv.sh``: the platform's xgboost,
pandas, pyarrow and numpy, plus dask[dataframe]), so it imports nothing of the platform.
What a plain Dask script would do with the same booster file: ``read_parquet`` →
``map_partitions`` (encode the features as the contract says, ``inplace_predict`` the
margin, Platt-calibrate, threshold, risk band) → ``to_parquet``, on the threaded
scheduler with ``--workers`` threads (one booster thread each, as each of our workers
has). Imports and loading the booster are not timed; reading, scoring and writing are.

Run: ``<dask venv>/bin/python bench/batch/dask_runner.py SPEC.json INPUT OUT_DIR``
where SPEC names the booster file and holds the features (name, categorical levels), the
calibration, threshold and risk bands. Prints one JSON line: seconds, rows, partitions,
CPU seconds (user + system, all threads), peak RSS (MiB,
getrusage) and the Dask version.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import xgboost as xgb


class Scorer:
    """Encode → margin → calibrated probability → prediction and band, per partition."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.booster = xgb.Booster(model_file=spec["booster"])
        self.booster.set_param({"nthread": 1})
        self.features: list[dict[str, Any]] = spec["features"]
        self.a, self.b = float(spec["calibration"]["a"]), float(spec["calibration"]["b"])
        self.platt = spec["calibration"]["method"] != "none"
        self.threshold = float(spec["threshold"])
        self.band_names = [band["name"] for band in spec["risk_bands"]]
        self.uppers = np.array([band["upper"] for band in spec["risk_bands"]])

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(frame), len(self.features)), dtype=np.float32)
        for j, feature in enumerate(self.features):
            column = frame[feature["name"]]
            levels = feature.get("levels")
            if levels is None:
                out[:, j] = column.to_numpy(np.float64, na_value=np.nan)
                continue
            codes = pd.Categorical(column, categories=levels).codes
            out[:, j] = np.where(codes >= 0, codes, np.where(column.isna(), np.nan, -1.0))
        return out

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        margin = np.asarray(self.booster.inplace_predict(self.encode(frame), predict_type="margin"))
        z = self.a * margin + self.b if self.platt else margin
        proba = 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))
        bands = np.minimum(np.searchsorted(self.uppers, proba, side="right"), len(self.uppers) - 1)
        return pd.DataFrame(
            {
                "probability": proba,
                "prediction": (proba >= self.threshold).astype(np.int8),
                "risk_band": pd.Categorical.from_codes(bands, categories=self.band_names),
            },
            index=frame.index,
        )

    def meta(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "probability": pd.Series(dtype="float64"),
                "prediction": pd.Series(dtype="int8"),
                "risk_band": pd.Categorical([], categories=self.band_names),
            }
        )


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class TimedScorer(Scorer):
    """``Scorer`` with CPU seconds per step (for ``--profile``, on the sync scheduler)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__(spec)
        self.spent = {"encode": 0.0, "predict (inplace_predict)": 0.0, "result frame": 0.0}

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        started = time.process_time()
        encoded = self.encode(frame)
        encoded_at = time.process_time()
        margin = np.asarray(self.booster.inplace_predict(encoded, predict_type="margin"))
        predicted_at = time.process_time()
        z = self.a * margin + self.b if self.platt else margin
        proba = 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))
        bands = np.minimum(np.searchsorted(self.uppers, proba, side="right"), len(self.uppers) - 1)
        out = pd.DataFrame(
            {
                "probability": proba,
                "prediction": (proba >= self.threshold).astype(np.int8),
                "risk_band": pd.Categorical.from_codes(bands, categories=self.band_names),
            },
            index=frame.index,
        )
        done = time.process_time()
        self.spent["encode"] += encoded_at - started
        self.spent["predict (inplace_predict)"] += predicted_at - encoded_at
        self.spent["result frame"] += done - predicted_at
        return out


def profile(spec: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """CPU seconds per 10^6 rows by stage of the first ``--profile`` rows, on Dask's
    single-threaded (sync) scheduler so every stage's CPU is this thread's: reading
    (read_parquet → pandas, alone), the scorer's steps, and writing (to_parquet: the
    whole run less the other two)."""
    names = [feature["name"] for feature in spec["features"]]
    scorer = TimedScorer(spec)
    with dask.config.set(scheduler="sync"):
        frame = dd.read_parquet(args.input, columns=names, split_row_groups=args.row_groups)
        rows_per_part = len(frame.partitions[0].compute())
        parts = max(1, args.profile // rows_per_part)
        frame.partitions[:1].map_partitions(scorer, meta=scorer.meta()).compute()  # warm
        scorer.spent = dict.fromkeys(scorer.spent, 0.0)
        cpu = time.process_time()
        frame.partitions[:parts].map_partitions(len).compute()
        read = time.process_time() - cpu
        cpu = time.process_time()
        scored = frame.partitions[:parts].map_partitions(scorer, meta=scorer.meta())
        scored.to_parquet(args.out, write_index=False)
        total = time.process_time() - cpu
    rows = parts * rows_per_part
    stages = {"read (read_parquet → pandas)": read, **scorer.spent}
    stages["write (to_parquet) + scheduler"] = total - read - sum(scorer.spent.values())
    stages["total (read, score, write)"] = total
    per_million = {k: round(v * 1e6 / rows, 4) for k, v in stages.items()}
    return {"rows": rows, "cpu_s_per_1m_rows": per_million, "dask": dask.__version__}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("spec")
    parser.add_argument("input")
    parser.add_argument("out")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--row-groups", type=int, default=2, help="row groups per partition")
    parser.add_argument(
        "--profile", type=int, default=0, help="profile stages over this many rows instead"
    )
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    if args.profile:
        print(json.dumps(profile(spec, args)))
        return
    scorer = Scorer(spec)
    names = [feature["name"] for feature in spec["features"]]
    with dask.config.set(scheduler="threads", num_workers=args.workers):
        started, cpu = time.perf_counter(), cpu_seconds()
        frame = dd.read_parquet(args.input, columns=names, split_row_groups=args.row_groups)
        scored = frame.map_partitions(scorer, meta=scorer.meta())
        scored.to_parquet(args.out, write_index=False)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_s": round(cpu, 2),
                "partitions": frame.npartitions,
                "peak_rss_mib": round(peak_kib / 1024),
                "dask": dask.__version__,
                "libraries": versions(),
            }
        )
    )


def versions() -> str:
    import pyarrow

    return f"xgboost {xgb.__version__}, pandas {pd.__version__}, pyarrow {pyarrow.__version__}"


if __name__ == "__main__":
    main()
