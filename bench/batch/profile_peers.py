"""Where a chunk's CPU goes, ours next to Dask's partition, stage by stage (issue 19).

Not a benchmark table: a breakdown on the same data in one process per side, each stage
timed on its own with ``time.process_time`` (CPU seconds of this process), reported per
10^6 rows over the input's first ``--rows`` rows, chunks of ``--chunk-rows``:

* ours: the stages of ``run_chunk`` as a worker runs them (read the chunk's row groups,
  check + encode straight from Arrow, predict + calibrate with the booster evaluated once
  per group of rows every tree treats alike (``LoadedModel.probabilities_of_many``),
  result table, summary, write, fsync), and beside them what it would cost to evaluate
  every row ("every row: predict") and the pandas path the worker takes for other column
  types or bad rows (to_pandas, ``check_frame``, ``encode_frame``);
* Dask: ``dask_runner.py --profile`` in Dask's virtualenv on its sync scheduler (one
  thread): read_parquet → pandas alone, the scorer's encode / inplace_predict / result
  frame, and to_parquet with the scheduler as the rest of the whole run.

rq and Redis per task are not in either column: ``bench_peers.py``'s timeline has them.
``--cprofile N`` also prints the N functions with the most own time in our ``run_chunk``.

    python3 bench/batch/profile_peers.py [--rows 2000000] [--chunk-rows 200000]

Uses the cached 10^7-row input of ``bench_peers.py`` (generated on first use) and a
quickly trained Default model (``--model-uri``/``--tracking-uri`` to give one).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.batch.bench_batch import CHUNK_ROWS, ROW_GROUP  # noqa: E402

RUNNER = Path(__file__).resolve().parent / "dask_runner.py"


def our_stages(
    model: Any, path: Path, chunk_rows: int = CHUNK_ROWS, rows: int = 1_000_000
) -> dict[str, float]:
    """CPU seconds per 10^6 rows of each stage of ``run_chunk`` (and, apart, of the pandas
    path it falls back to), chunk by chunk over the file's first ``rows`` rows."""
    from services.batch.checks import check_frame
    from services.batch.formats.parquet import plan_parquet
    from services.batch.state.result_files import META_KEY, write_table
    from services.batch.worker.arrow_encoding import encode_checked
    from services.batch.worker.chunk import feature_frame, read_chunk
    from services.batch.worker.scoring import result_table, summarise
    from services.core.encoding import encode_frame

    spent: dict[str, float] = {}

    def timed(stage: str, work: Callable[..., Any], *args: Any) -> Any:
        started = time.process_time()
        out = work(*args)
        spent[stage] = spent.get(stage, 0.0) + time.process_time() - started
        return out

    features = model.contract.features
    specs = plan_parquet(path, chunk_rows) or []
    model.probabilities(encode_checked(read_chunk(model, specs[0], None), features))  # warm
    done = 0
    with tempfile.TemporaryDirectory(prefix="profile-peers-") as tmp:
        for spec in specs:
            if done >= rows:
                break
            table = timed("read (row groups → Arrow)", read_chunk, model, spec, None)
            encoded = timed("check + encode (Arrow)", encode_checked, table, features)
            proba = timed("predict + calibrate (grouped)", model.probabilities_of_many, encoded)
            timed("every row: predict (margins)", model._margins, encoded)
            result = timed("result table", result_table, model, proba, spec.offset + 1)
            summary = timed("summarise", summarise, result, "bench", model.version)
            meta = {META_KEY: json.dumps(summary.metadata()).encode()}
            out = Path(tmp) / f"part-{spec.index}.parquet"
            timed("write (Parquet)", write_table, result.replace_schema_metadata(meta), out)
            timed("fsync", _fsync, out)
            frame = timed("pandas path: to_pandas", feature_frame, model, table)
            timed("pandas path: check_frame", check_frame, frame, features, spec.offset)
            timed("pandas path: encode_frame", encode_frame, features, frame)
            done += spec.rows
    return {stage: round(s * 1_000_000 / done, 4) for stage, s in spent.items()}


def _fsync(path: Path) -> None:
    with path.open("rb") as handle:
        os.fsync(handle.fileno())


def run_chunk_total(model: Any, path: Path, chunk_rows: int, rows: int, top: int) -> float:
    """CPU seconds per 10^6 rows of ``run_chunk`` itself (optionally cProfiled)."""
    from services.batch.formats.parquet import plan_parquet
    from services.batch.worker.chunk import run_chunk

    specs = [s for s in plan_parquet(path, chunk_rows) or [] if s.offset < rows]
    profiler = cProfile.Profile() if top else None
    with tempfile.TemporaryDirectory(prefix="profile-peers-") as tmp:
        started = time.process_time()
        if profiler:
            profiler.enable()
        for spec in specs:
            run_chunk(model, spec, Path(tmp) / f"part-{spec.index}.parquet", None)
        if profiler:
            profiler.disable()
        seconds = time.process_time() - started
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(top)
    return round(seconds * 1_000_000 / sum(s.rows for s in specs), 4)


def dask_stages(python: Path, spec: Path, path: Path, chunk_rows: int, rows: int) -> Any:
    with tempfile.TemporaryDirectory(prefix="profile-dask-") as tmp:
        out = subprocess.run(
            [
                *(str(python), str(RUNNER), str(spec), str(path), str(Path(tmp) / "out")),
                *("--row-groups", str(max(1, chunk_rows // ROW_GROUP))),
                *("--profile", str(rows)),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from bench.batch.bench_peers import cached_input, dask_python, write_spec
    from bench.batch.harness import model_or_quick
    from services.core.model_store import load_model

    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000, help="profile this many rows")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    parser.add_argument("--input-rows", type=int, default=10_000_000, help="cached input")
    parser.add_argument("--model-uri", help="use this model (default: train a quick one)")
    parser.add_argument("--tracking-uri", default="")
    parser.add_argument("--cprofile", type=int, default=0, help="print the top N functions")
    args = parser.parse_args()

    path = cached_input(args.input_rows)
    with tempfile.TemporaryDirectory(prefix="profile-peers-") as tmp:
        work = Path(tmp)
        uri, tracking = model_or_quick(args.model_uri, args.tracking_uri, work)
        model = load_model(uri, tracking, nthread=1)
        ours = our_stages(model, path, args.chunk_rows, args.rows)
        total = run_chunk_total(model, path, args.chunk_rows, args.rows, args.cprofile)
        theirs = dask_stages(
            dask_python(), write_spec(model, work), path, args.chunk_rows, args.rows
        )
    print(
        f"CPU s per 10^6 rows, first {args.rows:,} rows, {args.chunk_rows:,}-row chunks, "
        f"one booster thread; load {', '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
    )
    print("| ours: stage of run_chunk | CPU s / 10^6 rows |\n|---|---|")
    for stage, seconds in ours.items():
        print(f"| {stage} | {seconds} |")
    print(f"| run_chunk, timed whole | {total} |\n")
    print(f"| Dask {theirs['dask']}: stage | CPU s / 10^6 rows |\n|---|---|")
    for stage, seconds in theirs["cpu_s_per_1m_rows"].items():
        print(f"| {stage} | {seconds} |")


if __name__ == "__main__":
    main()
