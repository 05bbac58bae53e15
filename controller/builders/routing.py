"""Pure builders of traffic routing: Gateway API HTTPRoute backend weights (default) or a
canary Ingress with the nginx canary annotations (for clusters still on ingress-nginx)."""

from __future__ import annotations

import copy

from controller.builders.meta import Obj, Owner
from controller.spec import RolloutSpec

NGINX = "nginx.ingress.kubernetes.io"


def _weighted(refs: list[Obj], stable: str, canary: str, weight: int) -> list[Obj]:
    stable_ref = next((r for r in refs if r.get("name") == stable), None)
    if stable_ref is None:
        return refs  # a rule that does not send traffic to the stable Service
    out: list[Obj] = []
    for ref in refs:
        if ref.get("name") == stable:
            out.append({**ref, "weight": 100 - weight})
        elif ref.get("name") != canary:
            out.append(ref)
    if weight > 0:
        canary_ref = {k: v for k, v in stable_ref.items() if k not in ("name", "weight")}
        out.append({**canary_ref, "name": canary, "weight": weight})
    return out


def weighted_rules(route: Obj, spec: RolloutSpec, weight: int) -> list[Obj]:
    """The route's rules with stable/canary backendRefs weighted ``100 - weight``/``weight``.

    At weight 0 the canary backendRef is removed, so the route never points at a Service
    that is about to be deleted."""
    rules = copy.deepcopy(route.get("spec", {}).get("rules", []))
    for rule in rules:
        refs = rule.get("backendRefs") or []
        rule["backendRefs"] = _weighted(refs, spec.stable_service, spec.canary_service, weight)
    return rules


def _is_mirror_to(item: Obj, service: str) -> bool:
    ref = (item.get("requestMirror") or {}).get("backendRef") or {}
    return item.get("type") == "RequestMirror" and ref.get("name") == service


def mirrored_rules(route: Obj, spec: RolloutSpec, percent: int) -> list[Obj]:
    """The route's rules with a ``RequestMirror`` filter sending ``percent`` % of each
    stable rule's requests to the canary Service (its answers are discarded by the
    gateway); ``0`` removes that filter. Rules without the stable backendRef and other
    filters are kept as they are."""
    rules = copy.deepcopy(route.get("spec", {}).get("rules", []))
    for rule in rules:
        refs = rule.get("backendRefs") or []
        stable = next((r for r in refs if r.get("name") == spec.stable_service), None)
        filters = [
            f for f in rule.get("filters") or [] if not _is_mirror_to(f, spec.canary_service)
        ]
        if stable is not None and percent > 0:
            target = {k: v for k, v in stable.items() if k not in ("name", "weight", "filters")}
            mirror = {"backendRef": {**target, "name": spec.canary_service}, "percent": percent}
            filters.append({"type": "RequestMirror", "requestMirror": mirror})
        if filters:
            rule["filters"] = filters
        else:
            rule.pop("filters", None)
    return rules


def route_mirror(route: Obj, canary_service: str) -> int:
    """The share mirrored to the canary now (0 without a mirror filter to it)."""
    for rule in route.get("spec", {}).get("rules", []):
        for item in rule.get("filters") or []:
            if _is_mirror_to(item, canary_service):
                return int(item["requestMirror"].get("percent", 100))
    return 0


def route_weight(route: Obj, canary_service: str) -> int:
    """The canary weight currently on the route (0 without a canary backendRef)."""
    for rule in route.get("spec", {}).get("rules", []):
        for ref in rule.get("backendRefs") or []:
            if ref.get("name") == canary_service:
                return int(ref.get("weight", 1))
    return 0


def _retarget(rules: list[Obj], stable: str, canary: str) -> list[Obj]:
    rules = copy.deepcopy(rules)
    for rule in rules:
        for path in rule.get("http", {}).get("paths", []):
            service = path.get("backend", {}).get("service", {})
            if service.get("name") == stable:
                service["name"] = canary
    return rules


def canary_ingress(stable: Obj, spec: RolloutSpec, owner: Owner, weight: int) -> Obj:
    """The stable Ingress copied onto the canary Service with nginx canary weighting."""
    meta = owner.metadata(f"{stable['metadata']['name']}-canary")
    meta["annotations"] = {f"{NGINX}/canary": "true", f"{NGINX}/canary-weight": str(weight)}
    body = {
        "rules": _retarget(
            stable["spec"].get("rules", []), spec.stable_service, spec.canary_service
        )
    }
    if "ingressClassName" in stable["spec"]:
        body["ingressClassName"] = stable["spec"]["ingressClassName"]
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta, "spec": body}


def ingress_weight(ingress: Obj | None) -> int:
    annotations = (ingress or {}).get("metadata", {}).get("annotations") or {}
    return int(annotations.get(f"{NGINX}/canary-weight", 0))


MIRROR_TARGET = f"{NGINX}/mirror-target"


def _stable_port(ingress: Obj, stable: str) -> int | str | None:
    """The port (number or name) the Ingress sends to the stable Service on."""
    for rule in ingress.get("spec", {}).get("rules", []):
        for path in rule.get("http", {}).get("paths", []):
            service = path.get("backend", {}).get("service", {})
            if service.get("name") == stable:
                port = service.get("port") or {}
                found: int | str | None = port.get("number") or port.get("name")
                return found
    return None


def _port_number(port: int | str | None, canary_service: Obj | None) -> int | None:
    """A named port resolved on the canary Service (which copies the stable one's ports)."""
    if isinstance(port, int) or port is None:
        return port
    for item in (canary_service or {}).get("spec", {}).get("ports", []):
        if item.get("name") == port:
            return int(item["port"])
    return None


def mirror_url(ingress: Obj, spec: RolloutSpec, namespace: str, canary_service: Obj | None) -> str:
    """ingress-nginx's ``mirror-target``: the canary Service, same port and request URI.

    Raises ``ValueError`` when the Ingress sends nothing to the stable Service or its port
    cannot be resolved (the shadow phase must not silently compare nothing)."""
    port = _port_number(_stable_port(ingress, spec.stable_service), canary_service)
    if port is None:
        name = ingress.get("metadata", {}).get("name")
        raise ValueError(
            f"Ingress {name} has no backend port for Service {spec.stable_service} to mirror"
        )
    host = f"{spec.canary_service}.{namespace}.svc.cluster.local"
    return f"http://{host}:{port}$request_uri"


def ingress_mirror_patch(ingress: Obj, url: str | None) -> Obj | None:
    """The merge patch setting (``url``) or removing (``None``) the stable Ingress' mirror
    annotation; ``None`` when it already is so."""
    annotations = ingress.get("metadata", {}).get("annotations") or {}
    if annotations.get(MIRROR_TARGET) == url:
        return None
    return {"metadata": {"annotations": {MIRROR_TARGET: url}}}


def ingress_mirror(ingress: Obj | None, spec: RolloutSpec) -> int:
    """100 when the Ingress mirrors to the canary Service (ingress-nginx copies every
    request: no share), else 0."""
    annotations = (ingress or {}).get("metadata", {}).get("annotations") or {}
    target = annotations.get(MIRROR_TARGET) or ""
    return 100 if target.startswith(f"http://{spec.canary_service}.") else 0
