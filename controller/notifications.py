"""Phase-transition messages (pure): one ``Transition``, rendered for a Slack incoming
webhook, a Microsoft Teams incoming webhook (MessageCard) and a generic JSON receiver."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from controller.rollout import Decision
from controller.status import RolloutStatus

CHANNELS = ("slack", "teams", "webhook")  # keys of the notifications Secret
COLOURS = {"Succeeded": "2EB886", "Failed": "D00000", "RollingBack": "D00000"}
DEFAULT_COLOUR = "0078D7"


@dataclass(frozen=True)
class Transition:
    namespace: str
    name: str
    from_phase: str
    to_phase: str
    reason: str
    message: str
    model: str | None
    canary_version: str | None
    stable_version: str | None
    weight: int
    time: str  # RFC 3339


def transition(
    namespace: str, name: str, old: RolloutStatus, decision: Decision, time: str
) -> Transition | None:
    """The decision's phase change, with the reason of the Event it posts; else None."""
    new = decision.status
    if new.phase is old.phase:
        return None
    events = decision.events
    return Transition(
        namespace=namespace,
        name=name,
        from_phase=old.phase.value,
        to_phase=new.phase.value,
        reason=events[-1].reason if events else new.phase.value,
        message=new.message,
        model=new.model_name,
        canary_version=new.canary_version,
        stable_version=new.stable_version,
        weight=new.canary_weight,
        time=time,
    )


def _title(t: Transition) -> str:
    return f"ModelRollout {t.namespace}/{t.name}: {t.from_phase} → {t.to_phase} ({t.reason})"


def _versions(t: Transition) -> str:
    return f"{t.model or '?'} v{t.canary_version or '?'} (stable v{t.stable_version or '?'})"


def slack(t: Transition) -> dict[str, Any]:
    """Slack incoming webhook: ``text`` (fallback) plus one section block."""
    text = f"*{_title(t)}*\n{t.message}\nmodel {_versions(t)}, canary weight {t.weight}%"
    return {
        "text": _title(t),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
    }


def teams(t: Transition) -> dict[str, Any]:
    """Teams incoming webhook (Office 365 connector MessageCard)."""
    facts = {
        "phase": f"{t.from_phase} → {t.to_phase}",
        "reason": t.reason,
        "model": _versions(t),
        "canary weight": f"{t.weight}%",
        "time": t.time,
    }
    return {
        "@type": "MessageCard",
        "@context": "https://schema.org/extensions",
        "summary": _title(t),
        "themeColor": COLOURS.get(t.to_phase, DEFAULT_COLOUR),
        "title": _title(t),
        "text": t.message,
        "sections": [{"facts": [{"name": k, "value": v} for k, v in facts.items()]}],
    }


def generic(t: Transition) -> dict[str, Any]:
    """A plain JSON document for any receiver."""
    return {"kind": "ModelRolloutTransition", "apiVersion": "v1", **asdict(t)}


RENDER = {"slack": slack, "teams": teams, "webhook": generic}
