from __future__ import annotations

import numpy as np
import pytest

from services.trainer.contract_builder import default_risk_bands
from services.trainer.gate import quality_gate
from services.trainer.metrics import classification_metrics, ks_statistic
from services.trainer.modeling import f1_threshold, platt_calibration

pytestmark = pytest.mark.unit


def test_ks_of_perfect_and_useless_scores() -> None:
    y = np.array([0, 0, 1, 1])
    assert ks_statistic(y, np.array([0.1, 0.2, 0.8, 0.9])) == pytest.approx(1.0)
    assert ks_statistic(y, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.0)


def test_classification_metrics_confusion_matrix() -> None:
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.6, 0.2, 0.7, 0.3])
    m = classification_metrics(y, p, threshold=0.5)
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (2, 1, 1, 1)
    assert m["precision"] == pytest.approx(0.5)
    assert m["recall"] == pytest.approx(0.5)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))


def test_f1_threshold_picks_the_separating_cut() -> None:
    y = np.array([0, 0, 0, 1, 1])
    assert f1_threshold(np.array([0.1, 0.2, 0.3, 0.8, 0.9]), y) == pytest.approx(0.8)


def test_platt_calibration_recovers_a_known_sigmoid() -> None:
    rng = np.random.default_rng(0)
    margin = rng.normal(size=20_000)
    y = (rng.random(20_000) < 1 / (1 + np.exp(-(2.0 * margin - 1.0)))).astype(int)
    cal = platt_calibration(margin, y)
    assert cal.a == pytest.approx(2.0, abs=0.1)
    assert cal.b == pytest.approx(-1.0, abs=0.1)


def test_risk_bands_follow_threshold() -> None:
    bands = default_risk_bands(0.2)
    assert [(b.name, b.upper) for b in bands] == [
        ("low", 0.1),
        ("medium", 0.2),
        ("high", 0.4),
        ("very_high", 1.0),
    ]
    assert [b.name for b in default_risk_bands(0.7)] == ["low", "medium", "very_high"]


@pytest.mark.parametrize(
    ("auc", "champion", "passed"),
    [(0.9, None, True), (0.6, None, False), (0.9, 0.905, True), (0.9, 0.95, False)],
)
def test_quality_gate(auc: float, champion: float | None, passed: bool) -> None:
    result = quality_gate(auc, champion, min_roc_auc=0.7, max_auc_drop=0.01)
    assert result.passed is passed
    assert bool(result.reasons) is not passed
