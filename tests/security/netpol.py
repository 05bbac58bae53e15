"""A small evaluator of Kubernetes NetworkPolicy semantics over rendered manifests: may a
pod with these labels in this namespace open a TCP connection to that pod on that port?
(Both the source's egress and the destination's ingress policies must allow it; a pod no
policy of a direction selects is open in that direction.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: dict[str, str]
    namespace_labels: dict[str, str] = field(default_factory=dict)

    def ns_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace, **self.namespace_labels}


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[op]
        if not ok:
            return False
    return True


def _peer_matches(peer: dict[str, Any], policy_ns: str, other: Pod) -> bool:
    if "ipBlock" in peer:
        return True  # pod IPs are addresses too: an ipBlock is treated as "anything"
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], other.ns_labels()):
            return False
    elif other.namespace != policy_ns:
        return False
    if "podSelector" in peer:
        return selects(peer["podSelector"], other.labels)
    return True


def _rule_allows(rule: dict[str, Any], key: str, policy_ns: str, other: Pod, port: int) -> bool:
    ports = rule.get("ports")
    if ports and not any(p.get("port") in (None, port) for p in ports):
        return False
    peers = rule.get(key)
    return not peers or any(_peer_matches(p, policy_ns, other) for p in peers)


def _direction(policies: list[Manifest], pod: Pod, kind: str, other: Pod, port: int) -> bool:
    field_name, peer_key = ("egress", "to") if kind == "Egress" else ("ingress", "from")
    applying = [
        p
        for p in policies
        if p["metadata"]["namespace"] == pod.namespace
        and kind in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"]["podSelector"], pod.labels)
    ]
    if not applying:
        return True
    return any(
        _rule_allows(rule, peer_key, p["metadata"]["namespace"], other, port)
        for p in applying
        for rule in p["spec"].get(field_name) or []
    )


def allowed(policies: list[Manifest], src: Pod, dst: Pod, port: int) -> bool:
    return _direction(policies, src, "Egress", dst, port) and _direction(
        policies, dst, "Ingress", src, port
    )


def egress_covered(policies: list[Manifest], pod: Pod) -> bool:
    return any(
        p["metadata"]["namespace"] == pod.namespace
        and "Egress" in p["spec"].get("policyTypes", [])
        and selects(p["spec"]["podSelector"], pod.labels)
        for p in policies
    )


def release_pods(docs: list[Manifest]) -> dict[str, Pod]:
    """component -> a Pod with the labels of that component's pod template."""
    found: dict[str, Pod] = {}
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            labels = d["spec"]["template"]["metadata"]["labels"]
        elif d["kind"] == "Pod":
            labels = d["metadata"]["labels"]
        else:
            continue
        component = labels["app.kubernetes.io/component"]
        found[component] = Pod(d["metadata"]["name"], d["metadata"]["namespace"], labels)
    return found
