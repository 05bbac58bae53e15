"""How many rows a job's chunks hold: ``chunk_rows``, grown for long inputs.

Every chunk pays a fixed cost besides scoring its rows: a task through Redis and rq, its
input file opened, a result file created, fsynced and renamed, two job-state updates.
On the benchmark machine that is ~5-10 ms a chunk, while scoring 200,000 rows on one core
takes ~170 ms: 3-6 % of a long job's time. Longer chunks pay it fewer times, but each
holds more rows in a worker's memory at once and a job with few chunks cannot be shared
by many workers. So chunks grow past ``chunk_rows`` only while the job still has at least
``min_chunks`` of them, and never past ``max_chunk_rows`` (what bounds a worker's memory);
short jobs keep ``chunk_rows``. The size is chosen once at submit and stored in the job's
manifest, so a re-plan (a job restored after Redis lost it) cuts the same chunks.
"""

from __future__ import annotations


def chunk_rows_for(
    total_rows: int | None, chunk_rows: int, max_chunk_rows: int, min_chunks: int
) -> int:
    """Rows per chunk of a job of ``total_rows`` rows (None: not known at submit, e.g. a
    text input a split task will cut: ``chunk_rows``). Never below ``chunk_rows``."""
    if not total_rows or min_chunks < 1:
        return chunk_rows
    even = -(-total_rows // min_chunks)  # the chunk size that leaves exactly min_chunks
    return max(chunk_rows, min(max_chunk_rows, even))
