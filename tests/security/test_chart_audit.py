"""Chart audit with a third-party scanner: checkov (PyPI, scripts/install-checkov.sh) over
the rendered chart, default, all-features and decision-record (bundled PostgreSQL) values,
with no skips. Every finding must be
an accepted one (tests/security/checkov-accepted.yaml, reasons in docs/security.md); an
accepted entry that matches nothing is stale and fails too.

Counts on the chart before issue 16: 35 failed checks (default values), 26 (all-features)."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.deploy.chart import ALL_FEATURES, CI_VALUES, REPO, run, template_text, tool

pytestmark = pytest.mark.integration

ACCEPTED = Path(__file__).with_name("checkov-accepted.yaml")
DECISION_RECORD = CI_VALUES / "decision-record-values.yaml"  # the bundled PostgreSQL
SECURITY_DOC = REPO / "docs" / "security.md"


def _accepted() -> list[dict[str, Any]]:
    return list(yaml.safe_load(ACCEPTED.read_text()))


@pytest.fixture(scope="module")
def findings(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str, str]]:
    folder = tmp_path_factory.mktemp("rendered")
    (folder / "default.yaml").write_text(template_text())
    (folder / "all-features.yaml").write_text(template_text(ALL_FEATURES))
    (folder / "decision-record.yaml").write_text(template_text(DECISION_RECORD))
    proc = run(
        tool("checkov"),
        "-d",
        str(folder),
        "--framework",
        "kubernetes",
        "--output",
        "json",
        "--quiet",
        "--compact",
        check=False,
        timeout=900,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1 = some check failed
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    (report,) = [r for r in reports if r.get("check_type") == "kubernetes"]
    assert report["summary"]["parsing_errors"] == 0, report["summary"]
    assert report["summary"]["resource_count"] > 40, report["summary"]
    return [
        (r["check_id"], r["resource"], Path(r["file_path"]).name)
        for r in report["results"]["failed_checks"]
    ]


def _covers(entry: dict[str, Any], check: str, resource: str) -> bool:
    return entry["check"] == check and any(
        fnmatch.fnmatchcase(resource, pattern) for pattern in entry["resources"]
    )


def test_no_unexplained_findings(findings: list[tuple[str, str, str]]) -> None:
    accepted = _accepted()
    unexplained = sorted(
        {(c, r, f) for c, r, f in findings if not any(_covers(e, c, r) for e in accepted)}
    )
    assert unexplained == [], f"checkov findings nobody accepted: {unexplained}"


def test_no_stale_acceptances(findings: list[tuple[str, str, str]]) -> None:
    stale = [
        (e["check"], pattern)
        for e in _accepted()
        for pattern in e["resources"]
        if not any(_covers({**e, "resources": [pattern]}, c, r) for c, r, _ in findings)
    ]
    assert stale == [], f"accepted findings checkov no longer reports: {stale}"


def test_every_acceptance_is_documented() -> None:
    doc = " ".join(SECURITY_DOC.read_text().split())
    missing = [e["check"] for e in _accepted() if " ".join(e["reason"].split()) not in doc]
    assert missing == [], f"docs/security.md lacks the reason of {missing}"
