"""JSON Lines (NDJSON): one JSON object per line, ``{"student": "No", "balance": 729.5}``.

Read like CSV, as text: a number as it is written, a string as is, ``null`` or a missing
key as a missing value, so checking and typing are the text formats' shared code and
reported rows are data rows (the n-th object; blank lines are skipped). The first
``submit_check_rows`` objects are checked at submit (a needed key none of them has is a
missing column); a split task reads the rest in blocks and finds the bad rows after them.
"""

from __future__ import annotations

import codecs
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from services.batch.checks import check_frame, missing_columns, needed_columns
from services.batch.domain import BadInput
from services.batch.formats.base import Features, InputFormat

BLOCK_ROWS = 65_536  # objects per record batch when a split streams the file


def looks_like_jsonl(head: bytes) -> bool:
    """Undeclared input that starts with ``{`` is JSON Lines (a CSV header does not)."""
    return head.removeprefix(codecs.BOM_UTF8).lstrip()[:1] == b"{"


def json_objects(path: Path) -> Iterator[dict[str, Any]]:
    """The file's objects in order; a line that is not a JSON object is bad input."""
    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:  # also a line that is not UTF-8
                raise BadInput(f"line {number} is not valid JSON: {exc}") from exc
            if not isinstance(value, dict):
                raise BadInput(f"line {number} is not a JSON object")
            yield value


def as_text(value: Any) -> str | None:
    """A JSON value as CSV would give it: strings as is, anything else as JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def text_batch(objects: Iterable[dict[str, Any]], columns: Sequence[str]) -> pa.RecordBatch:
    rows = list(objects)
    return pa.RecordBatch.from_pydict(
        {c: pa.array([as_text(row.get(c)) for row in rows], pa.string()) for c in columns}
    )


def jsonl_batches(path: Path, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """Stream the objects' ``columns`` as text in blocks of ``BLOCK_ROWS`` rows."""
    objects = json_objects(path)
    while block := list(itertools.islice(objects, BLOCK_ROWS)):
        yield text_batch(block, columns)


def check_jsonl(path: Path, features: Features, id_column: str | None, check_rows: int) -> None:
    """Check the first ``check_rows`` objects (the row count is known after a split)."""
    first = list(itertools.islice(json_objects(path), check_rows))
    if not first:
        raise BadInput("no data rows")
    columns = needed_columns(features, id_column)
    keys = set().union(*first)
    missing = [c for c in columns if c not in keys]
    if missing:
        raise missing_columns(missing, sorted(keys), f"keys of the first {len(first)} objects")
    check_frame(text_batch(first, columns).to_pandas(), features)


FORMAT = InputFormat(
    name="jsonl",
    title="JSON Lines",
    media_types=("application/x-ndjson", "application/jsonl", "application/x-jsonlines"),
    suffixes=(".jsonl", ".ndjson"),
    check=check_jsonl,
    batches=jsonl_batches,
    looks_like=looks_like_jsonl,
    text=True,
)
