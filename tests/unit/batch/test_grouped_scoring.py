"""Batch scoring evaluates the booster once per group of rows every tree treats alike
(``LoadedModel.probabilities_of_many``): the same probabilities as evaluating every row,
bit for bit, whether it groups (many rows, few bin vectors) or not (few rows)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from services.batch.worker.scoring import score_frame
from services.core.encoding import encode_frame
from services.core.model_store import LoadedModel

pytestmark = pytest.mark.unit


def test_the_default_model_has_few_enough_bin_vectors_to_group_a_chunk(
    model: LoadedModel,
) -> None:
    bins = model.split_bins
    assert bins.few_groups(200_000)
    assert not bins.few_groups(100)  # a handful of rows: every row is evaluated


@pytest.mark.parametrize("rows", [1, 100, 200_000])  # the last is grouped
def test_grouped_probabilities_are_bit_identical(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame], rows: int
) -> None:
    frame = applicants(rows, 5)
    frame.loc[frame.index[::7], "income"] = np.nan  # missing values take default branches
    encoded = encode_frame(model.contract.features, frame)
    assert model.split_bins.few_groups(rows) == (rows == 200_000)
    grouped = model.probabilities_of_many(encoded)
    every_row = model.probabilities(encoded)
    assert grouped.dtype == every_row.dtype
    assert np.array_equal(grouped, every_row)


def test_a_scored_chunk_is_the_same_grouped_or_not(
    model: LoadedModel, applicants: Callable[[int, int], pd.DataFrame]
) -> None:
    frame = applicants(200_000, 9)
    assert model.split_bins.few_groups(len(frame))
    result = score_frame(model, frame, 1)
    expected = model.probabilities(encode_frame(model.contract.features, frame))
    assert np.array_equal(result.column("probability").to_numpy(), expected)
