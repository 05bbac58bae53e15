"""In-process fallback: run a job's chunks one after another in this process.

For demos and laptops without Redis. It checks, plans and scores with the very same code
as the queue path (the format's ``check`` and ``plan``, ``split_input``, ``run_chunk``) and
writes the same result files, but there is no queue: no retries, no progress for other
clients, no scale-out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from services.batch import formats
from services.batch.domain import ChunkSpec, JobState, new_job_id
from services.batch.state.storage import Storage
from services.batch.worker.chunk import run_chunk
from services.batch.worker.split import split_input
from services.core.model_store import LoadedModel

BANNER = (
    "*** Redis is not reachable ({reason}) — running the batch job IN-PROCESS as a "
    "fallback: same chunk code, but no queue, no retries, no workers. ***"
)


@dataclass
class LocalResult:
    job_id: str
    rows: int = 0
    positives: int = 0
    bands: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    result_files: list[Path] = field(default_factory=list)


Progress = Callable[[int, int | None], None]
CHECK_ROWS = 10_000  # rows checked before the first chunk, as submit_check_rows would


def run_local(
    model: LoadedModel,
    storage: Storage,
    source: Path,
    chunk_rows: int,
    id_column: str | None = None,
    progress: Progress | None = None,
    ttl: int = 86_400,
    reasons_k: int = 0,
) -> LocalResult:
    """Score ``source`` chunk by chunk; ``progress(rows_done, rows_total)`` after each."""
    started = time.perf_counter()
    result = LocalResult(new_job_id())
    paths = storage.job(result.job_id)
    features = model.contract.features
    fmt = formats.detect(source)
    total = fmt.check(source, features, id_column, CHECK_ROWS)
    chunks: Iterable[ChunkSpec] | None = fmt.plan(source, chunk_rows)
    if chunks is None:
        chunks = split_input(source, fmt, paths, chunk_rows, features, id_column)
    for spec in chunks:
        path = paths.result(spec.index)
        summary = run_chunk(model, spec, path, id_column, "in-process", False, reasons_k=reasons_k)
        result.rows += summary.rows
        result.positives += summary.positives
        for band, n in summary.bands.items():
            result.bands[band] = result.bands.get(band, 0) + n
        result.result_files.append(path)
        if progress:
            progress(result.rows, total)
    paths.write_final(JobState.SUCCEEDED.value, ttl, {"rows": result.rows, "local": True})
    result.seconds = time.perf_counter() - started
    return result
