"""The quality gate: does a new version deserve the ``challenger`` alias?"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)
    champion_roc_auc: float | None = None


def quality_gate(
    roc_auc: float, champion_roc_auc: float | None, min_roc_auc: float, max_auc_drop: float
) -> GateResult:
    """Pass when the holdout ROC-AUC clears the floor and is not worse than the champion's
    (on the same holdout rows when the champion can score them) by more than ``max_auc_drop``."""
    reasons = []
    if roc_auc < min_roc_auc:
        reasons.append(f"roc_auc {roc_auc:.4f} < minimum {min_roc_auc:.4f}")
    if champion_roc_auc is not None and roc_auc < champion_roc_auc - max_auc_drop:
        reasons.append(
            f"roc_auc {roc_auc:.4f} more than {max_auc_drop} below champion {champion_roc_auc:.4f}"
        )
    return GateResult(not reasons, reasons, champion_roc_auc)
