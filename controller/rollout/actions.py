"""Side effects the decision asks for, as small immutable values.

The executor applies them in order, then writes the status, then posts the events. Every
action is idempotent, so repeating a tick after a crash is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from controller.status import RolloutStatus


@dataclass(frozen=True)
class EnsureCanary:
    """Create or update canary Deployment + Service: the stable pod template with
    ``MODEL_URI=model_uri`` and ``track=canary``; scaled to ``replicas`` if at zero.
    With ``baseline_uri`` (shadow phase) the pods also score every applicant with that
    pinned stable version (``BASELINE_MODEL_URI``) and export the paired figures. With
    ``shadow`` they are shadow pods (``INFERENCE_SHADOW=true``): they only receive mirrored
    copies, so they record no decision; off again before any traffic step."""

    model_uri: str
    replicas: int
    baseline_uri: str | None = None
    shadow: bool = False


@dataclass(frozen=True)
class ScaleCanary:
    """Apply the canary HPA with these bounds (sized from the traffic weight)."""

    min_replicas: int
    max_replicas: int


@dataclass(frozen=True)
class SetWeight:
    """Route ``weight`` % of traffic to the canary, the rest to stable."""

    weight: int


@dataclass(frozen=True)
class SetMirror:
    """Mirror ``percent`` % of the stable route's requests to the canary Service (the
    gateway discards the canary's answers); ``0`` removes the mirror. Idempotent."""

    percent: int


@dataclass(frozen=True)
class ScaleCanaryDown:
    """Delete the canary HPA and scale the canary Deployment to zero (kept for logs)."""


@dataclass(frozen=True)
class DeleteCanary:
    """Delete canary Deployment, Service, HPA and canary Ingress."""


@dataclass(frozen=True)
class HoldStableHPAMin:
    """Raise the stable HPA's floor; ``original_min`` is kept on it as an annotation."""

    hpa: str
    min_replicas: int
    original_min: int


@dataclass(frozen=True)
class RestoreStableHPAMin:
    hpa: str
    min_replicas: int


@dataclass(frozen=True)
class PromoteStable:
    """Roll the stable Deployment onto ``model_uri`` (a pinned registry version)."""

    model_uri: str


@dataclass(frozen=True)
class MoveAlias:
    model_name: str
    version: str
    alias: str = "champion"


@dataclass(frozen=True)
class TagVersion:
    """Set tags on a registered model version; ``best_effort`` failures are only logged."""

    model_name: str
    version: str
    tags: dict[str, str] = field(default_factory=dict)
    best_effort: bool = False


@dataclass(frozen=True)
class ClearOperatorAction:
    """Remove the handled ``mlops.creditrisk.io/action`` annotation (and its ``action-by``)."""


@dataclass(frozen=True)
class CallWebhook:
    """Fire a notification hook (``post-rollout``, ``rollback``) once; best effort: a
    failure is logged and counted, never raised (``status.hooks`` records it as sent).
    ``status`` is the decision's new status, the payload's source (kept out of logs)."""

    name: str
    type: str
    status: RolloutStatus = field(repr=False, compare=False)


@dataclass(frozen=True)
class EmitEvent:
    reason: str
    message: str
    type: Literal["Normal", "Warning"] = "Normal"


Action = (
    EnsureCanary
    | ScaleCanary
    | SetWeight
    | SetMirror
    | ScaleCanaryDown
    | DeleteCanary
    | HoldStableHPAMin
    | RestoreStableHPAMin
    | PromoteStable
    | MoveAlias
    | TagVersion
    | ClearOperatorAction
    | CallWebhook
    | EmitEvent
)
