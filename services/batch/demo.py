"""``python -m services.batch demo``: score synthetic applicants end to end.

Generates ``--rows`` applicants (default 100,000) from the model's dataset, submits them
as a job, runs a burst worker, shows a progress bar and prints a summary (predicted
default rate, risk-band counts). Without a reachable Redis it says so loudly and runs the
same chunks in-process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from services.batch.settings import BatchSettings


def generate(path: Path, dataset: str, rows: int, seed: int = 7) -> Path:
    from services.core.datasets import load_config
    from services.core.synthetic import ApplicantGenerator

    if path.exists() and pq.read_metadata(path).num_rows == rows:
        return path
    generator = ApplicantGenerator.from_config(load_config(dataset))
    path.parent.mkdir(parents=True, exist_ok=True)
    writer: pq.ParquetWriter | None = None
    for frame in generator.iter_frames(rows, chunk=100_000, seed=seed):
        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()
    return path


def print_summary(rows: int, positives: int, bands: dict[str, int], seconds: float) -> None:
    print(f"\nscored {rows:,} applicants in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)")
    print(f"predicted default rate: {positives / max(rows, 1):.2%} ({positives:,} applicants)")
    for band, n in sorted(bands.items(), key=lambda item: -item[1]):
        print(f"  risk band {band:<10} {n:>10,}  ({n / max(rows, 1):.1%})")


def _demo(args: argparse.Namespace) -> int:
    from services.batch.state.backend import Backend
    from services.core.model_store import ModelLoadError, load_model

    settings = BatchSettings()
    try:
        model = load_model(settings.model_uri, settings.mlflow_tracking_uri, settings.nthread)
    except ModelLoadError as exc:
        print(f"no model to score with ({exc}); train one first: python -m services.trainer")
        return 2
    path = generate(
        settings.storage_dir / "inputs" / f"demo-{args.rows}.parquet",
        model.contract.dataset,
        args.rows,
    )
    backend = Backend.connect(settings)
    reason = "--local given" if args.local else ""
    if not reason:
        try:
            backend.redis.ping()
        except Exception as exc:
            reason = f"{backend.target}: {exc}"
    if reason:
        return _local(settings, model, path, reason)
    return _queued(settings, backend, model, path)


def _local(settings: BatchSettings, model: Any, path: Path, reason: str) -> int:
    from services.batch.state.storage import Storage
    from services.batch.worker.local import BANNER, run_local

    print(BANNER.format(reason=reason), file=sys.stderr)
    with tqdm(unit="rows", unit_scale=True, desc="in-process") as bar:

        def progress(done: int, total: int | None) -> None:
            bar.total = total
            bar.update(done - bar.n)

        result = run_local(
            model,
            Storage(settings.storage_dir),
            path,
            settings.chunk_rows,
            progress=progress,
            reasons_k=settings.reasons_top_k,
        )
    print_summary(result.rows, result.positives, result.bands, result.seconds)
    return 0


def _queued(settings: BatchSettings, backend: Any, model: Any, path: Path) -> int:
    from services.batch.domain import new_job_id
    from services.batch.service.batch_service import BatchService
    from services.batch.service.submit import Source, register_source

    service = BatchService(backend, model.contract)
    started = time.perf_counter()
    source = Source("path", path, "parquet", path.name)
    status = register_source(service, new_job_id(), source, None, "demo")
    print(
        f"submitted job {status.job_id} ({status.rows_total:,} rows, {status.chunks_total} "
        "chunks); starting a burst worker",
        file=sys.stderr,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "services.batch", "worker", "--burst"],
        env={**os.environ, "BATCH_LOG_LEVEL": "WARNING"},
    )
    try:
        with tqdm(total=status.rows_total, unit="rows", unit_scale=True, desc="queued") as bar:
            while not status.state.is_final:
                time.sleep(0.3)
                status = service.status(status.job_id)
                bar.update(status.rows_done - bar.n)
                bar.set_postfix_str(status.state.value)
    finally:
        worker.wait(timeout=60)
    if status.summary is None:
        print(f"job {status.state.value}: {status.error.message if status.error else ''}")
        return 1
    s = status.summary
    # the job's own time (first chunk started → last chunk written), not the worker start-up
    seconds = s.rows / status.rows_per_second if status.rows_per_second else 0.0
    print_summary(
        s.rows, s.predicted_defaults, s.risk_bands, seconds or time.perf_counter() - started
    )
    return 0


def add_command(commands: Any) -> None:
    demo = commands.add_parser("demo", help="score synthetic applicants end to end")
    demo.add_argument("--rows", type=int, default=100_000, help="applicants to generate")
    demo.add_argument("--local", action="store_true", help="force the in-process fallback")
    demo.set_defaults(handler=_demo)
