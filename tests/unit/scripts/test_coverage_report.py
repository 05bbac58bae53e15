"""make coverage's table: every module counted, imported or not, grouped per package and
per service; the modules below the bar listed; a partial run says so."""

from __future__ import annotations

import json
import os
from pathlib import Path

import coverage
import pytest

from scripts import coverage_report as report

pytestmark = pytest.mark.unit


def run_data(data: Path, leave_out: str = "") -> None:
    """Data as `coverage run` saves it: psi.py's first line executed, every other module
    of the tree recorded with no line run (but ``leave_out``)."""
    run = coverage.CoverageData(str(data))
    run.add_lines({str(report.ROOT / "services/core/psi.py"): [1]})
    run.touch_files([str(report.ROOT / m) for m in report.source_files() if m != leave_out])
    run.write()


def test_a_module_no_test_ran_counts_at_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    run_data(data)
    monkeypatch.chdir(report.ROOT)
    per_module = report.measured(data)
    assert sorted(per_module) == report.source_files()
    statements, missed = per_module["controller/rollout/decision.py"]
    assert statements > 0
    assert missed == statements


def test_a_module_missing_from_the_data_fails_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    run_data(data, leave_out="services/inference/routes/predict.py")
    monkeypatch.chdir(report.ROOT)
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    assert report.main(["--data", str(data), "--scope", "pytest tests/unit"]) == 1
    assert "services/inference/routes/predict.py" in capsys.readouterr().err
    assert not (tmp_path / "coverage.md").exists()


def test_packages_and_services_sum_their_modules() -> None:
    per_module = {
        "controller/spec.py": (10, 0),
        "controller/rollout/decision.py": (30, 3),
        "services/batch/state/jobs.py": (20, 10),
        "services/batch/worker/tasks.py": (20, 0),
        "services/__init__.py": (0, 0),
    }
    tables = report.tables(per_module)
    assert tables["total"] == {
        "package": "all",
        "modules": 5,
        "statements": 80,
        "missed": 13,
        "percent": 83.8,
    }
    services = {r["package"]: (r["statements"], r["missed"]) for r in tables["services"]}
    assert services == {"controller": (40, 3), "services/batch": (40, 10), "services": (0, 0)}
    packages = {r["package"]: r["percent"] for r in tables["packages"]}
    assert packages["controller/rollout"] == 90.0
    assert packages["services/batch/state"] == 50.0
    assert [r["module"] for r in tables["below_bar"]] == ["services/batch/state/jobs.py"]


def test_a_partial_run_is_labelled_partial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    run_data(data)
    monkeypatch.chdir(report.ROOT)
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    argv = ["--data", str(data), "--scope", "pytest tests/unit", "--processes", "3"]
    assert report.main([*argv, "--name", "partial"]) == 0
    md = (tmp_path / "partial.md").read_text()
    assert "**PARTIAL run**" in md
    assert "`pytest tests/unit`" in md
    assert json.loads((tmp_path / "partial.json").read_text())["run"]["full"] is False
    assert report.main([*argv, "--name", "full", "--full"]) == 0
    assert "**Full run**" in (tmp_path / "full.md").read_text()
    assert os.path.exists(tmp_path / "full.json")
