"""The suite-under-load runner runs real pytest sessions beside a real busy process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import common, suite_under_load

pytestmark = pytest.mark.integration


def test_runs_pytest_in_a_row_beside_a_hog_and_reports_each_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two real pytest runs of a tiny suite (one test passes, one fails) beside one real
    busy-loop process: both runs are reported as failed, with the failing test named,
    the hog's CPU counted, and the exit status 1."""
    (tmp_path / "test_tiny.py").write_text(
        "def test_passes():\n    assert True\n\ndef test_fails():\n    assert 1 == 2\n"
    )
    results = tmp_path / "results"
    monkeypatch.setattr(common, "RESULTS", results)
    status = suite_under_load.main(
        ["--runs", "2", "--hogs", "1", "--", "-q", "-rfE", "-p", "no:cacheprovider",
         str(tmp_path / "test_tiny.py")]
    )  # fmt: skip
    assert status == 1
    rows = json.loads((results / "suite_under_load.json").read_text())["rows"]
    assert [r["run"] for r in rows] == [1, 2]
    for row in rows:
        assert (row["status"], row["passed"], row["failed"]) == (1, 1, 1)
        [failure] = row["failures"]
        assert failure.startswith("FAILED ")
        assert failure.endswith("test_tiny.py::test_fails")
        assert row["hog_cpu_s"] > 0
    text = (results / "suite_under_load.md").read_text()
    assert "**0 of 2 run(s) passed.**" in text
    assert "- run 2: FAILED" in text
