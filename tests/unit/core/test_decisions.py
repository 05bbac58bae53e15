"""The decision record's pure parts: rows, the inputs hash, spool encoding, partitions."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services.core.decisions.digests import hmac_sha256_hex
from services.core.decisions.export import write_export
from services.core.decisions.partitions import (
    create_partition_sql,
    expired,
    partition_day,
    partition_name,
)
from services.core.decisions.record import (
    COLUMNS,
    BaselineAnswer,
    InputsMode,
    as_dict,
    batch_decision_id,
    canonical_inputs,
    inputs_digest,
    job_day,
    row_from_json,
    row_to_json,
    to_row,
)
from services.core.decisions.settings import DecisionSettings
from tests.support.decision_samples import AT, REASONS, decision

pytestmark = pytest.mark.unit


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


def test_a_decision_without_a_baseline_has_a_null_baseline_column() -> None:
    doc = dict(zip(COLUMNS, to_row(decision(), InputsMode.VALUES), strict=True))
    assert doc["baseline"] is None
    assert as_dict(doc)["baseline"] is None


def test_a_paired_decision_records_the_baselines_answer() -> None:
    baseline = BaselineAnswer("6", 0.12, 0, "low")
    for mode in InputsMode:
        row = to_row(decision(baseline=baseline), mode, "salt")
        doc = dict(zip(COLUMNS, row, strict=True))
        assert doc["baseline"] == '{"version":"6","probability":0.12,"prediction":0,"band":"low"}'
        assert (doc["probability"], doc["prediction"], doc["risk_band"]) == (0.61, 1, "high")
    numpy_like = BaselineAnswer("6", 0.5, True, "high")  # type: ignore[arg-type]
    text = to_row(decision(baseline=numpy_like), InputsMode.VALUES)[COLUMNS.index("baseline")]
    assert json.loads(text) == {"version": "6", "probability": 0.5, "prediction": 1, "band": "high"}


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
    paired = to_row(decision(baseline=BaselineAnswer("6", 0.12, 0, "low")), InputsMode.VALUES)
    assert row_from_json(json.loads(json.dumps(row_to_json(paired)))) == paired


def test_a_row_spooled_before_the_baseline_column_replays_with_it_null() -> None:
    old = row_to_json(to_row(decision(), InputsMode.VALUES))[: COLUMNS.index("baseline")]
    row = row_from_json(json.loads(json.dumps(old)))
    assert len(row) == len(COLUMNS)
    assert row[-1] is None
    assert row[:-1] == to_row(decision(), InputsMode.VALUES)[:-1]


def test_stored_row_becomes_a_document() -> None:
    stored = dict(zip(COLUMNS, to_row(decision(), InputsMode.VALUES), strict=True))
    doc = as_dict(stored)
    assert "day" not in doc
    assert doc["decided_at"] == "2026-03-01T23:59:59.123456+00:00"
    assert doc["inputs"]["student"] == "No"
    assert doc["reasons"] == REASONS
    paired = to_row(decision(baseline=BaselineAnswer("6", 0.12, 0, "low")), InputsMode.VALUES)
    shown = as_dict(dict(zip(COLUMNS, paired, strict=True)))["baseline"]
    assert shown == {"version": "6", "probability": 0.12, "prediction": 0, "band": "low"}


def test_export_has_the_baseline_as_json_text(tmp_path: Path) -> None:
    stored = [
        {**dict(zip(COLUMNS, to_row(decision(), InputsMode.VALUES), strict=True)), "baseline": b}
        for b in (None, {"version": "6", "probability": 0.12, "prediction": 0, "band": "low"})
    ]
    out = tmp_path / "d.parquet"
    assert write_export(stored, out, "parquet") == 2
    column = pq.read_table(out).column("baseline").to_pylist()
    assert column[0] is None
    assert json.loads(column[1]) == stored[1]["baseline"]


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


def test_the_writer_imports_without_pyarrow() -> None:
    """The lean inference image has no pyarrow: the writer (which also takes the batch
    workers' column-wise blocks) must not import it."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class NoArrow:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('pyarrow', 'pandas'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, NoArrow())\n"
        "import services.core.decisions.writer, services.inference.recording\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("salt", ["", "s", "k" * 64, "k" * 65, "sél" * 30])
def test_column_digests_are_the_per_row_hmac(salt: str) -> None:
    """``hmac_sha256_hex`` (the batch inputs' digests, one column at a time) gives exactly
    ``hmac.new(salt, text, sha256).hexdigest()`` per text: short, block-sized and hashed
    salts, empty and non-ASCII texts, slices and chunked columns."""
    texts = [
        "",
        "a",
        '{"balance":1234.5,"income":null,"student":"No"}',
        "é" * 300,
        "x" * 64,
    ] * 3
    column = pa.array(texts)
    for given, expected_texts in (
        (column, texts),
        (column.slice(2, 9), texts[2:11]),
        (pa.chunked_array([column.slice(0, 4), column.slice(4)]), texts),
        (pa.array(texts, pa.large_string()), texts),
        (pa.array([], pa.string()), []),
    ):
        got = hmac_sha256_hex(given, salt)
        got.validate(full=True)
        assert got.type == pa.string()
        assert got.to_pylist() == [
            hmac.new(salt.encode(), t.encode(), hashlib.sha256).hexdigest() for t in expected_texts
        ]
    with pytest.raises(ValueError, match="null"):
        hmac_sha256_hex(pa.array(["a", None]), salt)
