"""Check a table of applicants against feature specs and report every problem at once.

The report names the column, the rule and the first offending rows (1-based data rows,
so row 1 is the first line after the CSV header), e.g.
``income: 2 values below min 0 (rows 5, 17)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from services.core.contract import FeatureSpec
from services.core.encoding import level_codes

MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Issue:
    column: str | None
    message: str
    rows: tuple[int, ...] = ()  # 1-based data rows (first rows only)
    count: int = 0

    def __str__(self) -> str:
        where = f"{self.column}: " if self.column else ""
        rows = ""
        if self.rows:
            more = f", … {self.count - len(self.rows)} more" if self.count > len(self.rows) else ""
            rows = f" (rows {', '.join(map(str, self.rows))}{more})"
        return f"{where}{self.message}{rows}"

    def as_dict(self) -> dict[str, object]:
        return {
            "column": self.column,
            "message": self.message,
            "rows": list(self.rows),
            "count": self.count,
        }


class DataValidationError(ValueError):
    """Input data broke the contract; ``report`` lists every problem."""

    def __init__(self, report: ValidationReport) -> None:
        self.report = report
        super().__init__(report.summary())


@dataclass
class ValidationReport:
    n_rows: int = 0
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    def summary(self) -> str:
        if self.ok:
            return f"{self.n_rows} rows valid"
        lines = [f"{len(self.issues)} problem(s) in {self.n_rows} rows:"]
        return "\n".join(lines + [f"  - {issue}" for issue in self.issues])

    def raise_if_failed(self) -> None:
        if not self.ok:
            raise DataValidationError(self)

    def add(self, column: str | None, message: str, mask: np.ndarray | None = None) -> None:
        if mask is None:
            self.issues.append(Issue(column, message))
            return
        bad = np.flatnonzero(mask)
        if bad.size:
            rows = tuple(int(r) + 1 for r in bad[:MAX_ROWS_SHOWN])
            self.issues.append(Issue(column, f"{bad.size} {message}", rows, int(bad.size)))


def validate_frame(
    frame: pd.DataFrame,
    features: Sequence[FeatureSpec],
    *,
    target: str | None = None,
    id_column: str | None = None,
    allow_extra: bool = False,
) -> ValidationReport:
    """Validate columns, types, NaN/inf, ranges, levels and duplicate ids."""
    report = ValidationReport(n_rows=len(frame))
    if frame.empty:
        report.add(None, "no data rows")
    expected = [f.name for f in features] + [c for c in (target, id_column) if c]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        report.add(None, f"missing column(s): {', '.join(missing)}")
    extra = [c for c in frame.columns if c not in expected]
    if extra and not allow_extra:
        report.add(None, f"unexpected column(s): {', '.join(map(str, extra))}")
    for spec in features:
        if spec.name in frame.columns:
            _check_feature(report, spec, frame[spec.name])
    if target and target in frame.columns:
        report.add(target, "missing target values", frame[target].isna().to_numpy())
    if id_column and id_column in frame.columns:
        report.add(id_column, "duplicate ids", frame[id_column].duplicated().to_numpy())
    return report


def _check_feature(report: ValidationReport, spec: FeatureSpec, column: pd.Series) -> None:
    absent = column.isna().to_numpy()
    if not spec.nullable:
        report.add(spec.name, "missing values (feature is not nullable)", absent)
    if spec.is_categorical:
        unknown = ~absent & (level_codes(column, spec.levels or []) < 0)
        report.add(spec.name, f"unknown levels (allowed: {', '.join(spec.levels or [])})", unknown)
        return
    values = pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
    not_numbers = np.isnan(values) & ~absent
    report.add(spec.name, "values that are not numbers", not_numbers)
    report.add(spec.name, "infinite values", np.isinf(values))
    finite = np.isfinite(values)
    if spec.min is not None:
        report.add(spec.name, f"values below min {spec.min:g}", finite & (values < spec.min))
    if spec.max is not None:
        report.add(spec.name, f"values above max {spec.max:g}", finite & (values > spec.max))
