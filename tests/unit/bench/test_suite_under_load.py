"""The suite-under-load runner reads pytest's summary right and reports every run."""

from __future__ import annotations

import pytest

from bench import suite_under_load

SUMMARY = """\
........F.
=========================== short test summary info ============================
FAILED tests/unit/a/test_x.py::test_one - assert 1 == 2
ERROR tests/integration/b/test_y.py::test_two[redis] - OSError: port in use
= 1 failed, 2096 passed, 1 error, 3 deselected in 2531.20s (0:42:11) =
"""


@pytest.mark.unit
def test_tally_reads_the_last_summary_line() -> None:
    assert suite_under_load.tally(SUMMARY) == {"passed": 2096, "failed": 1, "errors": 1}
    assert suite_under_load.tally("2098 passed in 10.00s\n") == {
        "passed": 2098,
        "failed": 0,
        "errors": 0,
    }
    assert suite_under_load.tally("INTERNALERROR> boom\n") == {
        "passed": 0,
        "failed": 0,
        "errors": 0,
    }


@pytest.mark.unit
def test_failures_lists_failed_and_erroring_tests() -> None:
    assert suite_under_load.failures(SUMMARY) == [
        "FAILED tests/unit/a/test_x.py::test_one",
        "ERROR tests/integration/b/test_y.py::test_two[redis]",
    ]
    assert suite_under_load.failures("2098 passed in 10.00s\n") == []
