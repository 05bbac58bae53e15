"""The decision record's pure parts: rows, the inputs hash, spool encoding, partitions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.core.decisions.partitions import (
    create_partition_sql,
    expired,
    partition_day,
    partition_name,
)
from services.core.decisions.record import (
    COLUMNS,
    Decision,
    InputsMode,
    ModelIdentity,
    as_dict,
    batch_decision_id,
    canonical_inputs,
    inputs_digest,
    job_day,
    online_decision_id,
    row_from_json,
    row_to_json,
    to_row,
)
from services.core.decisions.settings import DecisionSettings

pytestmark = pytest.mark.unit

AT = datetime(2026, 3, 1, 23, 59, 59, 123456, tzinfo=UTC)
REASONS = [{"feature": "balance", "value": 1800.0, "contribution": 1.2, "statement": "High"}]


def decision(**changes: object) -> Decision:
    base: dict[str, object] = {
        "decision_id": online_decision_id("abc", 2),
        "decided_at": AT,
        "day": AT.date(),
        "model": ModelIdentity("credit-default", "7", "canary"),
        "inputs": {"income": 41000.5, "student": "No", "balance": float("nan")},
        "probability": 0.61,
        "prediction": 1,
        "risk_band": "high",
        "threshold": 0.5,
        "caller": "0123456789ab",
        "request_id": "req-1",
        "item": 2,
        "reasons": REASONS,
    }
    base.update(changes)
    return Decision(**base)  # type: ignore[arg-type]


def test_row_follows_the_columns_and_keeps_values() -> None:
    row = to_row(decision(), InputsMode.VALUES)
    assert len(row) == len(COLUMNS)
    doc = dict(zip(COLUMNS, row, strict=True))
    assert doc["decision_id"] == "req:abc:2"
    assert doc["inputs"] == '{"balance":null,"income":41000.5,"student":"No"}'  # NaN is null
    assert doc["inputs_hash"] is None
    assert (doc["model_name"], doc["model_version"], doc["track"]) == (
        "credit-default",
        "7",
        "canary",
    )
    assert (
        doc["reasons"]
        == '[{"feature":"balance","value":1800.0,"contribution":1.2,"statement":"High"}]'
    )


def test_hash_mode_keeps_no_input_and_the_digest_depends_on_salt_and_values() -> None:
    row = dict(zip(COLUMNS, to_row(decision(), InputsMode.HASH, "salt-1"), strict=True))
    assert row["inputs"] is None
    assert row["inputs_hash"] == inputs_digest(decision().inputs, "salt-1")
    same_values_other_order = {"student": "No", "balance": None, "income": 41000.5}
    assert inputs_digest(same_values_other_order, "salt-1") == row["inputs_hash"]
    assert inputs_digest(decision().inputs, "salt-2") != row["inputs_hash"]
    assert (
        inputs_digest({**same_values_other_order, "income": 41000.6}, "salt-1")
        != row["inputs_hash"]
    )


def test_hash_mode_requires_a_salt() -> None:
    with pytest.raises(ValueError, match="HASH_SALT"):
        DecisionSettings(dsn="postgresql://x", inputs="hash")
    assert not DecisionSettings(dsn="").enabled


def test_spool_encoding_round_trips() -> None:
    row = to_row(decision(), InputsMode.VALUES)
    assert row_from_json(row_to_json(row)) == row


def test_stored_row_becomes_a_document() -> None:
    stored = dict(zip(COLUMNS, to_row(decision(), InputsMode.VALUES), strict=True))
    doc = as_dict(stored)
    assert "day" not in doc
    assert doc["decided_at"] == "2026-03-01T23:59:59.123456+00:00"
    assert doc["inputs"]["student"] == "No"
    assert doc["reasons"] == REASONS


def test_keys() -> None:
    assert batch_decision_id("j1", 17) == "job:j1:17"
    assert canonical_inputs({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    assert job_day(AT.timestamp()) == date(2026, 3, 1)


def test_partition_names_and_bounds() -> None:
    day = date(2026, 12, 31)
    assert partition_name(day) == "decisions_20261231"
    assert partition_day("decisions_20261231") == day
    assert partition_day("decisions_in") is None
    ddl = create_partition_sql("decisions", day)
    assert "FROM ('2026-12-31') TO ('2027-01-01')" in ddl


def test_retention_picks_only_whole_old_days() -> None:
    names = ["decisions_20260101", "decisions_20260110", "decisions_20260109", "other"]
    today = date(2026, 1, 10)
    assert expired(names, today, 1) == ["decisions_20260101"]
    assert expired(names, today, 0) == []
    assert expired(names, date(2026, 1, 12), 2) == ["decisions_20260101", "decisions_20260109"]
