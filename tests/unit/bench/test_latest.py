"""The benchmark summary reads every result file the benchmarks write."""

from __future__ import annotations

import pytest

from bench import latest

pytestmark = pytest.mark.unit


def test_every_committed_result_gives_rows() -> None:
    rows, missing = latest.table()
    assert missing == []
    benchmarks = {row[0] for row in rows}
    assert benchmarks == {
        "training",
        "model quality (holdout)",
        "inference",
        "decision record",
        "batch",
        "batch vs peer",
        "reason codes",
        "paired scoring",
        "controller",
        "controller at scale",
        "rollout loop",
        "shadow mirror",
        "control plane build",
        "containers",
        "kind (offline, real kubelets)",
    }
    assert all(len(row) == 5 and row[2] for row in rows)


def test_render_is_one_table_with_machine_facts() -> None:
    rows, _ = latest.table()
    text = latest.render(rows, ["soak"], {"cpus": 2})
    table = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table) == len(rows) + 2
    assert "Machine: cpus 2" in text
    assert "Not run yet: soak" in text
