"""Batch reasons ranked once per group of alike rows, the groups' TreeSHAP contributions
kept across chunks (``services.core.reason_groups``): the same reason arrays, bit for bit,
as ranking every row from its own contributions, in a first chunk and in later ones, with
missing values and unknown levels; rows the groups cannot number fall back."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from services.batch.worker.scoring import reason_columns
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel
from services.core.reason_groups import ReasonGroups
from services.core.reason_layout import with_null_reasons
from services.core.reasons import NO_REASON, top_reason_columns

pytestmark = pytest.mark.unit
Applicants = Callable[[int, int], pd.DataFrame]


def reference(
    model: LoadedModel, encoded: np.ndarray, k: int, nulls: bool = False
) -> dict[str, pa.Array]:
    """The reason columns from every row's own contributions (no grouping at all): no
    reason as ``""`` / NaN (the result table's layout), or with ``nulls`` as nulls (the
    layout readers see, ``with_null_reasons``)."""
    found = top_reason_columns(model.contributions(encoded), encoded, model.statements, k)
    texts = pa.array([*model.statements.texts, ""])
    names = pa.array([*model.statements.names, ""])
    out: dict[str, pa.Array] = {}
    for i in range(k):
        none = found.feature[:, i] == NO_REASON
        mask = none if nulls else None
        for name, codes, values in (
            (f"reason_{i + 1}", found.statement[:, i], texts),
            (f"reason_{i + 1}_feature", found.feature[:, i], names),
        ):
            indices = pa.array(np.where(none, len(values) - 1, codes).astype(np.int32), mask=mask)
            out[name] = pa.DictionaryArray.from_arrays(indices, values)
        out[f"reason_{i + 1}_contribution"] = pa.array(
            found.contribution[:, i], pa.float64(), mask=mask
        )
    return out


def chunk(applicants: Applicants, rows: int, seed: int) -> pd.DataFrame:
    frame = applicants(rows, seed)
    frame.loc[frame.index[::7], "income"] = np.nan
    frame.loc[frame.index[::11], "balance"] = np.nan
    frame.loc[frame.index[::13], "student"] = None
    frame.loc[frame.index[5::17], "student"] = "Maybe"  # a level the model never saw
    return frame


def assert_same(got: dict[str, pa.Array], expected: dict[str, pa.Array]) -> None:
    assert list(got) == list(expected)
    for name, column in expected.items():
        assert got[name].type == column.type, name
        if not name.endswith("_contribution"):  # NaN: compared bit for bit below
            assert got[name].equals(column), name
        assert got[name].null_count == column.null_count, name
    for name in expected:
        if name.endswith("_contribution"):  # bit for bit, not approximately
            a = got[name].to_numpy(zero_copy_only=False)
            b = expected[name].to_numpy(zero_copy_only=False)
            assert np.array_equal(a.view(np.int64), b.view(np.int64)), name


@pytest.mark.parametrize("k", [1, 4])
def test_grouped_reasons_equal_every_rows_own_across_chunks(
    model: LoadedModel, applicants: Applicants, k: int
) -> None:
    groups = ReasonGroups(model.split_bins, model.statements, model.contributions)
    assert groups.enabled
    for seed in (1, 2, 3):  # the later chunks reuse the first ones' contributions
        encoded = encode_frame(model.contract.features, chunk(applicants, 20_000, seed))
        grouped = groups.columns(encoded, k)
        assert grouped is not None
        assert len(grouped.groups.feature) < len(encoded) // 4  # far fewer groups than rows
        expected = top_reason_columns(model.contributions(encoded), encoded, model.statements, k)
        rows = grouped.rows()
        assert np.array_equal(rows.feature, expected.feature)
        assert np.array_equal(rows.statement, expected.statement)
        assert np.array_equal(
            rows.contribution.view(np.int64), expected.contribution.view(np.int64)
        )


def test_batch_reason_columns_equal_the_reference(
    model: LoadedModel, applicants: Applicants
) -> None:
    model.reason_groups.clear()
    for seed in (4, 5):
        encoded = encode_frame(model.contract.features, chunk(applicants, 5_000, seed))
        assert_same(reason_columns(model, encoded, 4), reference(model, encoded, 4))


def test_readers_see_null_where_there_is_no_reason(
    model: LoadedModel, applicants: Applicants
) -> None:
    """The non-nullable columns ("" / NaN) read through ``with_null_reasons`` equal the
    nullable layout the result table had before (null statement, feature, contribution)."""
    encoded = encode_frame(model.contract.features, chunk(applicants, 5_000, 7))
    table = pa.table(reason_columns(model, encoded, 4))
    assert table.column("reason_4").null_count == 0
    assert table.column("reason_4").to_pylist() == [""] * 5_000  # Default: 3 features
    viewed = with_null_reasons(table)
    expected = reference(model, encoded, 4, nulls=True)
    assert viewed.column("reason_4").null_count == 5_000
    assert viewed.column("reason_1").null_count > 0  # some rows have no reason at all
    for name, column in expected.items():
        got = viewed.column(name).combine_chunks()
        assert got.null_count == column.null_count, name
        assert got.equals(column), name
        assert got.to_pylist() == column.to_pylist(), name
    assert with_null_reasons(viewed).equals(viewed)  # nulls already: as it is


def test_rows_the_groups_cannot_number_fall_back_to_the_same_columns(
    model: LoadedModel, applicants: Applicants
) -> None:
    encoded = encode_frame(model.contract.features, chunk(applicants, 2_000, 6))
    student = model.contract.feature_names.index("student")
    encoded[::3, student] = 40  # a code past every level's numbering
    assert model.split_bins.keys(encoded) is None
    assert model.reason_groups.columns(encoded, 4) is None
    assert_same(reason_columns(model, encoded, 4), reference(model, encoded, 4))
