"""What the in-process batch benchmarks score: a quick Default model loaded the way one
worker of the two-worker deployment loads it, and synthetic Default applicants."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from services.batch.domain import ChunkSpec
    from services.core.model_store import LoadedModel

CHUNK_ROWS = 200_000  # rows per chunk in the in-process chunk benchmarks


def one_worker_model(work: Path) -> LoadedModel:
    """A quickly trained Default model (MLflow store under ``work``), 1 booster thread."""
    from services.core.model_store import load_model
    from tests.support.models import tracking_uri_for, train_quick

    trained = train_quick(tracking_uri_for(work / "mlflow"), "default", nthread=1)
    return load_model(trained.uri, trained.tracking_uri, nthread=1)


def default_applicants(rows: int, seed: int = 3) -> pd.DataFrame:
    """``rows`` synthetic Default applicants, ``student`` categorical as Parquet reads it."""
    from services.core.datasets import load_config
    from services.core.synthetic import ApplicantGenerator

    frame = ApplicantGenerator.from_config(load_config("default")).sample(rows, seed=seed)
    frame["student"] = frame["student"].astype("category")
    return frame


def chunked_input(work: Path, chunks: int) -> Callable[[int], ChunkSpec]:
    """``chunks`` distinct chunks of ``CHUNK_ROWS`` synthetic applicants in one Parquet file
    under ``work`` (row groups of 100,000); the spec of chunk ``n``, cycling over them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from services.batch.domain import ChunkSpec

    source = work / "in.parquet"
    frame = default_applicants(CHUNK_ROWS * chunks)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), source, 100_000)

    def spec(n: int) -> ChunkSpec:
        c = n % chunks
        return ChunkSpec(n, str(source), c * CHUNK_ROWS, CHUNK_ROWS, (2 * c, 2 * c + 2))

    return spec
