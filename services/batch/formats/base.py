"""What an input format is: the one place that knows its names, how to recognise it, how
to check it at submit, how to read it (in place, or streamed by a split task) and, if
results can be downloaded in it, how to write them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from services.batch.domain import ChunkSpec
from services.core.contract import FeatureSpec

Features = Sequence[FeatureSpec]
ResultFiles = list[tuple[ChunkSpec, Path]]  # a job's result files, in input order

# (path, features, id column, rows to validate) → the row count if cheap to know, else None
Check = Callable[[Path, Features, str | None, int], int | None]
# (path, needed columns) → the input as record batches (text columns for text formats)
Batches = Callable[[Path, Sequence[str]], Iterator[pa.RecordBatch]]
# (path, chunk rows) → chunks read straight from the file, or None: a split task cuts parts
Plan = Callable[[Path, int], list[ChunkSpec] | None]
# a job's result files → the bytes of one download in this format, chunk by chunk
WriteResults = Callable[[ResultFiles], Iterator[bytes]]


def split_it(path: Path, chunk_rows: int) -> list[ChunkSpec] | None:
    """The plan of a format that cannot be read chunk by chunk in place."""
    return None


@dataclass(frozen=True)
class InputFormat:
    name: str  # in the API (``format=``), manifests and job records
    title: str  # in messages
    media_types: tuple[str, ...]  # Content-Types of a raw upload; the first is canonical
    suffixes: tuple[str, ...]  # file name endings (lower case); the first is canonical
    check: Check
    batches: Batches
    magic: bytes = b""  # leading bytes that prove the format, whatever was declared
    looks_like: Callable[[bytes], bool] | None = None  # a guess from the first bytes
    text: bool = False  # values arrive as text: validated and typed while split into parts
    plan: Plan = split_it
    write_results: WriteResults | None = None  # results can be downloaded in this format

    @property
    def media_type(self) -> str:
        return self.media_types[0]

    @property
    def suffix(self) -> str:
        return self.suffixes[0].lstrip(".")
