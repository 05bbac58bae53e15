from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from services.core.contract import FeatureSpec
from services.core.validation import DataValidationError, validate_frame

pytestmark = pytest.mark.unit

FEATURES = [
    FeatureSpec(name="student", type="categorical", levels=["No", "Yes"]),
    FeatureSpec(name="balance", type="numeric", min=0, max=10_000),
    FeatureSpec(name="income", type="numeric", min=0, nullable=True),
]


def frame(**overrides: list[object]) -> pd.DataFrame:
    data: dict[str, list[object]] = {
        "id": [1, 2, 3, 4],
        "student": ["No", "Yes", "No", "No"],
        "balance": [10.0, 20.0, 30.0, 40.0],
        "income": [1.0, None, 3.0, 4.0],
        "default": ["No", "No", "Yes", "No"],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def messages(df: pd.DataFrame) -> list[str]:
    report = validate_frame(df, FEATURES, target="default", id_column="id")
    return [str(issue) for issue in report.issues]


def test_clean_frame_passes_and_nullable_allows_missing() -> None:
    report = validate_frame(frame(), FEATURES, target="default", id_column="id")
    assert report.ok, report.summary()


def test_report_names_field_rule_and_rows() -> None:
    found = messages(frame(balance=[10.0, -5.0, 30.0, 20_000.0]))
    assert found == [
        "balance: 1 values below min 0 (rows 2)",
        "balance: 1 values above max 10000 (rows 4)",
    ]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"balance": [1.0, np.nan, 2.0, 3.0]},
            "balance: 1 missing values (feature is not nullable) (rows 2)",
        ),
        ({"balance": [1.0, np.inf, 2.0, -np.inf]}, "balance: 2 infinite values (rows 2, 4)"),
        ({"balance": ["1", "abc", "2", "3"]}, "balance: 1 values that are not numbers (rows 2)"),
        (
            {"student": ["No", "Maybe", "No", "No"]},
            "student: 1 unknown levels (allowed: No, Yes) (rows 2)",
        ),
        ({"id": [1, 2, 2, 3]}, "id: 1 duplicate ids (rows 3)"),
        ({"default": ["No", None, "No", "No"]}, "default: 1 missing target values (rows 2)"),
    ],
)
def test_each_rule(overrides: dict[str, list[object]], expected: str) -> None:
    assert expected in messages(frame(**overrides))


def test_missing_and_extra_columns_are_reported() -> None:
    df = frame().drop(columns=["income"]).assign(zip=[1, 2, 3, 4])
    found = messages(df)
    assert "missing column(s): income" in found
    assert "unexpected column(s): zip" in found


def test_empty_frame_and_raise() -> None:
    report = validate_frame(frame().iloc[0:0], FEATURES)
    with pytest.raises(DataValidationError, match="no data rows"):
        report.raise_if_failed()


def test_long_lists_are_truncated() -> None:
    df = frame(balance=[-1.0] * 4)
    df = pd.concat([df] * 3, ignore_index=True).assign(id=range(12))
    (issue,) = [i for i in validate_frame(df, FEATURES, id_column="id", target="default").issues]
    assert issue.count == 12
    assert str(issue).endswith("(rows 1, 2, 3, 4, 5, … 7 more)")


def test_bounds_are_inclusive_and_infinite_values_are_only_reported_as_infinite() -> None:
    assert messages(frame(balance=[0.0, 10_000.0, 1.0, 2.0])) == []
    assert messages(frame(balance=[-np.inf, np.inf, 1.0, 2.0])) == [
        "balance: 2 infinite values (rows 1, 2)"
    ]


def test_a_missing_value_is_neither_a_non_number_nor_an_unknown_level() -> None:
    nullable = [
        FeatureSpec(name="student", type="categorical", levels=["No", "Yes"], nullable=True),
        FeatureSpec(name="income", type="numeric", nullable=True),
    ]
    df = pd.DataFrame({"student": ["No", None, "Yes"], "income": [1.0, None, np.nan]})
    assert validate_frame(df, nullable).ok


def test_the_summary_lists_every_problem_under_a_count() -> None:
    df = frame(balance=[-1.0, 2.0, 3.0, 4.0]).drop(columns=["income", "student"])
    report = validate_frame(df, FEATURES, target="default", id_column="id")
    assert report.summary() == (
        "2 problem(s) in 4 rows:\n"
        "  - missing column(s): student, income\n"
        "  - balance: 1 values below min 0 (rows 1)"
    )
    with pytest.raises(DataValidationError) as raised:
        report.raise_if_failed()
    assert str(raised.value) == report.summary()
    assert raised.value.report is report
    clean = validate_frame(frame(), FEATURES, target="default", id_column="id")
    assert clean.summary() == "4 rows valid"
    clean.raise_if_failed()


def test_an_issue_as_a_dict_keeps_its_column_rows_and_count() -> None:
    (issue,) = validate_frame(
        frame(balance=[-1.0, 2.0, -3.0, 4.0]), FEATURES[1:2], allow_extra=True
    ).issues
    assert issue.as_dict() == {
        "column": "balance",
        "message": "2 values below min 0",
        "rows": [1, 3],
        "count": 2,
    }


def test_five_rows_are_shown_in_full_and_extra_columns_can_be_allowed() -> None:
    df = pd.DataFrame({"balance": [-1.0] * 5, "note": ["x"] * 5})
    (issue,) = validate_frame(df, FEATURES[1:2], allow_extra=True).issues
    assert str(issue) == "balance: 5 values below min 0 (rows 1, 2, 3, 4, 5)"
    assert "unexpected column(s): note" in [
        str(i) for i in validate_frame(df, FEATURES[1:2]).issues
    ]


def test_an_empty_frame_is_one_problem_named_exactly() -> None:
    report = validate_frame(frame().iloc[0:0], FEATURES, target="default", id_column="id")
    assert report.summary() == "1 problem(s) in 0 rows:\n  - no data rows"


def test_absent_target_and_id_columns_are_reported_missing_not_checked() -> None:
    df = frame().drop(columns=["default", "id"]).assign(zip=[1, 2, 3, 4], note=["x"] * 4)
    found = messages(df)
    assert found == ["missing column(s): default, id", "unexpected column(s): zip, note"]
