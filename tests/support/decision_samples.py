"""One sample decision (an online one, declined, with a reason) for the decision-record
unit tests; each test changes the fields it is about."""

from __future__ import annotations

from datetime import UTC, datetime

from services.core.decisions.record import Decision, ModelIdentity, online_decision_id

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
