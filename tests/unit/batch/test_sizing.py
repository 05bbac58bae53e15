"""The chunk size a job gets at submit: ``chunk_rows``, grown for long inputs (pure)."""

from __future__ import annotations

import pytest

from services.batch.settings import BatchSettings
from services.batch.sizing import chunk_rows_for

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("total", "expected"),
    [
        (None, 200_000),  # row count unknown at submit (a text input is split)
        (0, 200_000),
        (1_000, 200_000),
        (3_200_000, 200_000),  # 16 chunks of chunk_rows: no reason to grow
        (4_000_000, 250_000),  # grows while the job keeps 16 chunks
        (8_000_000, 500_000),
        (10_000_000, 500_000),  # capped at max_chunk_rows
        (10**9, 500_000),
    ],
)
def test_chunks_grow_with_the_input_up_to_the_cap(total: int | None, expected: int) -> None:
    assert chunk_rows_for(total, 200_000, 500_000, 16) == expected


def test_a_grown_job_keeps_at_least_min_chunks() -> None:
    for total in (3_200_001, 4_321_987, 7_999_999):
        rows = chunk_rows_for(total, 200_000, 500_000, 16)
        assert -(-total // rows) >= 16
        assert 200_000 < rows <= 500_000


def test_never_below_chunk_rows_whatever_the_cap() -> None:
    assert chunk_rows_for(10**8, 200_000, 100_000, 16) == 200_000
    assert chunk_rows_for(10**8, 200_000, 500_000, 0) == 200_000


def test_defaults_leave_short_jobs_alone_and_bound_long_ones() -> None:
    fields = BatchSettings.model_fields
    grow = fields["max_chunk_rows"].default, fields["min_chunks"].default
    base = fields["chunk_rows"].default
    assert chunk_rows_for(1_000_000, base, *grow) == base
    assert chunk_rows_for(10**7, base, *grow) == grow[0]
