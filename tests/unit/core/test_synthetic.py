from __future__ import annotations

import numpy as np
import pytest

from services.core.datasets import load_config, load_dataset
from services.core.encoding import encode_frame
from services.core.psi import categorical_histogram, numeric_histogram, psi
from services.core.synthetic import ApplicantGenerator, Drift

pytestmark = pytest.mark.unit


def references(name: str) -> tuple[ApplicantGenerator, list, list[str]]:
    config = load_config(name)
    x, _ = load_dataset(config)
    encoded = encode_frame(config.features, x)
    hists = [
        categorical_histogram(encoded[:, j], f.levels or [])
        if f.is_categorical
        else numeric_histogram(encoded[:, j])
        for j, f in enumerate(config.features)
    ]
    return ApplicantGenerator.from_config(config), hists, config.feature_names


def test_same_seed_same_sample_other_seed_other_sample() -> None:
    gen, _, _ = references("default")
    a, ya = gen.sample_encoded(1000, seed=7)
    b, yb = gen.sample_encoded(1000, seed=7)
    c, _ = gen.sample_encoded(1000, seed=8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    ("dataset", "drift"),
    [
        ("default", Drift("income", shift=-0.3)),
        ("default", Drift("student", level="Yes", fraction=0.4)),
        ("lending_club", Drift("annual_inc", shift=-0.3)),
        ("lending_club", Drift("term", level="term_60", fraction=0.4)),
        ("credit_data", Drift("Income", shift=-0.3)),
        ("credit_data", Drift("Home", level="rent", fraction=0.5)),
    ],
)
def test_injected_drift_is_detectable_and_fresh_sample_is_not(dataset: str, drift: Drift) -> None:
    gen, hists, names = references(dataset)
    fresh, _ = gen.sample_encoded(20_000, seed=1)
    drifted, _ = gen.sample_encoded(20_000, seed=2, drift=[drift])
    j = names.index(drift.feature)
    assert psi(hists[j], drifted[:, j]) >= 0.2
    assert max(psi(h, fresh[:, k]) for k, h in enumerate(hists)) <= 0.05


def test_sample_respects_contract_ranges_levels_and_missing() -> None:
    config = load_config("credit_data")
    gen = ApplicantGenerator.from_config(config)
    frame = gen.sample(5000, seed=3)
    from services.core.validation import validate_frame

    assert validate_frame(frame, config.features).ok
    assert frame["Income"].isna().any()  # missing values carry over


def test_iter_frames_covers_exactly_n_rows() -> None:
    gen, _, _ = references("default")
    sizes = [len(f) for f in gen.iter_frames(25_000, chunk=10_000)]
    assert sizes == [10_000, 10_000, 5_000]


def test_drift_parse() -> None:
    assert Drift.parse("income:-0.3") == Drift("income", shift=-0.3)
    assert Drift.parse("student=Yes:0.4") == Drift("student", level="Yes", fraction=0.4)
