"""The decisions of one scoring request, for the decision record (``services.core.decisions``).

Built on the request path from values the route already has: one timestamp, one nonce
and one small dataclass per applicant; formatting, hashing and I/O happen in the
writer's thread. Reasons are those of each answer (``reasons``: the declined, or all
with ``?explain=true``), unless given; an answer without reasons records an empty list.
A pod paired with a baseline passes the baseline's answers to the same applicants
(``baselines``, in order); otherwise, or where the baseline failed, the record has none.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from services.core.decisions.record import (
    BaselineAnswer,
    Decision,
    ModelIdentity,
    now,
    online_decision_id,
)
from services.inference.runtime import Served

Reasons = Sequence[Mapping[str, Any]]


def online_decisions(
    served: Served,
    request_id: str,
    caller: str,
    inputs: Sequence[Mapping[str, Any]],
    answers: Sequence[Mapping[str, Any]],
    reasons: Sequence[Reasons] | None = None,
    baselines: Sequence[BaselineAnswer | None] | None = None,
) -> list[Decision]:
    at = now()
    day = at.date()
    nonce = uuid.uuid4().hex
    model = ModelIdentity(*served.labels)
    threshold = served.model.contract.threshold
    return [
        Decision(
            decision_id=online_decision_id(nonce, item),
            decided_at=at,
            day=day,
            model=model,
            inputs=values,
            probability=answer["probability"],
            prediction=answer["prediction"],
            risk_band=answer["risk_band"],
            threshold=threshold,
            caller=caller,
            request_id=request_id,
            item=item,
            reasons=reasons[item] if reasons is not None else answer.get("reasons", ()),
            baseline=baselines[item] if baselines is not None else None,
        )
        for item, (values, answer) in enumerate(zip(inputs, answers, strict=True))
    ]
