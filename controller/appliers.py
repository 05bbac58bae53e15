"""One function per action type: how the executor carries it out through the adapters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from loguru import logger

from controller import ACTION_ANNOTATION, ACTION_BY_ANNOTATION
from controller.builders import (
    canary_deployment,
    canary_hpa,
    canary_ingress,
    canary_service,
    floor_in_place,
    hpa_floor_patch,
    ingress_mirror,
    ingress_mirror_patch,
    mirror_url,
    mirrored_rules,
    promote_patch,
    promoted,
    route_mirror,
    route_weight,
    weighted_rules,
)
from controller.hooks import run
from controller.kube import (
    DEPLOYMENTS,
    HPAS,
    HTTPROUTES,
    INGRESSES,
    ROLLOUTS,
    SERVICES,
    STRATEGIC,
    KubeError,
)
from controller.parallel import side_by_side
from controller.rollout import actions as act
from controller.target import MissingObject, Target

Obj = dict[str, Any]


def ensure_canary(t: Target, a: act.EnsureCanary) -> None:
    kube, spec = t.runtime.kube, t.spec
    stable = t.need(DEPLOYMENTS, spec.target_ref.name)
    service = t.need(SERVICES, spec.stable_service)
    existing = canary_names_ours(t)  # both names checked before the first write
    built = canary_deployment(stable, spec, t.owner, a.model_uri, a.baseline_uri, a.shadow)

    def deployment() -> None:
        applied = kube.apply(built)
        if needs_replicas(existing, applied, a.replicas):
            kube.patch(DEPLOYMENTS, t.ns, spec.canary_name, {"spec": {"replicas": a.replicas}})

    def canary_svc() -> None:  # skipped when in place
        t.apply_owned(canary_service(service, spec, t.owner, stable))

    # The Service does not depend on the Deployment (nor it on the Service): side by side.
    side_by_side(t.runtime.writes, [deployment, canary_svc])


def needs_replicas(existing: Obj | None, applied: Obj, replicas: int) -> bool:
    """Whether the canary Deployment needs its ``replicas`` set after the apply (which
    leaves the field to the HPA): only when it was absent or scaled to zero before, and
    then not when the apply's answer already has that count (a new Deployment gets the
    API's default of 1, the usual first step)."""
    if existing is not None and existing["spec"].get("replicas"):
        return False
    return (applied.get("spec") or {}).get("replicas") != replicas


def canary_names_ours(t: Target) -> Obj | None:
    """Raise ``NotOwned`` when the canary Service's or Deployment's name is taken by an
    object this rollout did not make (read, usually from the watch cache, not written);
    the canary Deployment if it is ours, ``None`` if absent."""
    t.owned(SERVICES, t.spec.canary_service)
    return t.owned(DEPLOYMENTS, t.spec.canary_name)


def scale_canary(t: Target, a: act.ScaleCanary) -> None:
    """The canary HPA, applied (when not in place) only when the canary's names are ours
    (``canary_names_ours``): it may run beside ``ensure_canary`` (``parallel.stages``),
    whose own check would come too late to keep an HPA off a stranger's Deployment, or
    to make none for a canary refused for a squatted Service name."""
    canary_names_ours(t)
    t.apply_owned(canary_hpa(t.spec, t.owner, a.min_replicas, a.max_replicas))


def _route_change(t: Target, weight: int) -> Callable[[Obj], Obj | None]:
    def change(route: Obj) -> Obj | None:
        rules = weighted_rules(route, t.spec, weight)
        if rules == route.get("spec", {}).get("rules"):
            return None
        return {"spec": {"rules": rules}}

    return change


def set_weight(t: Target, a: act.SetWeight) -> None:
    kube, spec = t.runtime.kube, t.spec
    if spec.http_route is not None:
        route = kube.modify(HTTPROUTES, t.ns, spec.http_route, _route_change(t, a.weight))
        if route is None and a.weight > 0:
            raise MissingObject(f"HTTPRoute {spec.http_route} not found in {t.ns}")
        if route is not None and route_weight(route, spec.canary_service) != a.weight:
            raise KubeError(409, f"HTTPRoute {spec.http_route} did not take weight {a.weight}")
        return
    assert spec.router.ingress is not None
    name = spec.router.ingress.name
    if t.owned(INGRESSES, f"{name}-canary") is None and a.weight == 0:
        return
    kube.apply(canary_ingress(t.need(INGRESSES, name), spec, t.owner, a.weight))


def _mirror_change(t: Target, percent: int) -> Callable[[Obj], Obj | None]:
    def change(route: Obj) -> Obj | None:
        rules = mirrored_rules(route, t.spec, percent)
        if rules == route.get("spec", {}).get("rules"):
            return None
        return {"spec": {"rules": rules}}

    return change


def _set_ingress_mirror(t: Target, percent: int) -> None:
    """ingress-nginx: the ``mirror-target`` annotation on the stable Ingress (every
    request; spec validation allows only ``percent: 100`` with this router)."""
    kube, spec = t.runtime.kube, t.spec
    assert spec.router.ingress is not None
    name = spec.router.ingress.name

    canary = t.owned(SERVICES, spec.canary_service) if percent else None  # named ports

    def change(ingress: Obj) -> Obj | None:
        url = mirror_url(ingress, spec, t.ns, canary) if percent else None
        return ingress_mirror_patch(ingress, url)

    try:
        ingress = kube.modify(INGRESSES, t.ns, name, change)
    except ValueError as exc:
        raise MissingObject(str(exc)) from exc
    if ingress is None and percent > 0:
        raise MissingObject(f"Ingress {name} not found in {t.ns}")
    if ingress is not None and ingress_mirror(ingress, spec) != (100 if percent else 0):
        raise KubeError(409, f"Ingress {name} did not take the mirror annotation")


def set_mirror(t: Target, a: act.SetMirror) -> None:
    """Mirror ``percent`` % of the stable traffic to the canary (0: none): a
    ``RequestMirror`` filter on the HTTPRoute, or ingress-nginx's mirror annotation."""
    kube, spec = t.runtime.kube, t.spec
    if spec.http_route is None:
        _set_ingress_mirror(t, a.percent)
        return
    route = kube.modify(HTTPROUTES, t.ns, spec.http_route, _mirror_change(t, a.percent))
    if route is None and a.percent > 0:
        raise MissingObject(f"HTTPRoute {spec.http_route} not found in {t.ns}")
    if route is not None and route_mirror(route, spec.canary_service) != a.percent:
        raise KubeError(409, f"HTTPRoute {spec.http_route} did not take mirror {a.percent}%")


def scale_canary_down(t: Target, a: act.ScaleCanaryDown) -> None:
    """The HPA deleted first, then the Deployment scaled to zero, in turn: the Deployment
    stays, so an HPA still there would scale it back up to its floor."""
    name = t.spec.canary_name
    t.delete_owned(HPAS, name)
    canary = t.owned(DEPLOYMENTS, name)
    if canary is not None and canary["spec"].get("replicas") != 0:  # absent: 1
        t.runtime.kube.patch(DEPLOYMENTS, t.ns, name, {"spec": {"replicas": 0}})


def delete_canary(t: Target, a: act.DeleteCanary) -> None:
    """Every canary object deleted at once: its HPA, Deployment and Service (and canary
    Ingress), one round trip after the route write that took the canary's traffic away
    (an earlier effect, returned before this one starts). The HPA need not go first here:
    it scales its target only through the Deployment's ``scale`` subresource, which a
    deleted Deployment no longer has (404), so it cannot bring the pods back; it only
    fails to find its target until its own delete lands. ``scale_canary_down``, which
    keeps the Deployment, still deletes the HPA first. The Service, the route's backend,
    goes at the same moment as the pods, as it already did."""
    spec = t.spec
    calls: list[Callable[[], object]] = [
        partial(t.delete_owned, HPAS, spec.canary_name),
        partial(t.delete_owned, DEPLOYMENTS, spec.canary_name),
        partial(t.delete_owned, SERVICES, spec.canary_service),
    ]
    if spec.router.ingress is not None:
        calls.append(partial(t.delete_owned, INGRESSES, f"{spec.router.ingress.name}-canary"))
    side_by_side(t.runtime.writes, calls)


def hold_hpa(t: Target, a: act.HoldStableHPAMin) -> None:
    """Raise the stable HPA's floor; no write when the HPA (as read, usually from the watch
    cache) already holds it with the same original recorded."""
    kube = t.runtime.kube
    if floor_in_place(kube.get(HPAS, t.ns, a.hpa), a.min_replicas, a.original_min):
        return
    kube.patch(HPAS, t.ns, a.hpa, hpa_floor_patch(a.min_replicas, a.original_min))


def restore_hpa(t: Target, a: act.RestoreStableHPAMin) -> None:
    """Give the stable HPA its floor back; no write when it already has it (and no held
    annotation) or is gone."""
    kube = t.runtime.kube
    found = kube.get(HPAS, t.ns, a.hpa)
    if found is None or floor_in_place(found, a.min_replicas, None):
        return
    try:
        kube.patch(HPAS, t.ns, a.hpa, hpa_floor_patch(a.min_replicas, None))
    except KubeError as exc:
        if exc.status != 404:
            raise


def promote_stable(t: Target, a: act.PromoteStable) -> None:
    stable = t.need(DEPLOYMENTS, t.spec.target_ref.name)
    if promoted(stable, t.spec, a.model_uri):
        return  # e.g. a tick repeated before the watch showed the rolling update
    patch = promote_patch(stable, t.spec, a.model_uri)
    t.runtime.kube.patch(DEPLOYMENTS, t.ns, t.spec.target_ref.name, patch, STRATEGIC)


def move_alias(t: Target, a: act.MoveAlias) -> None:
    t.runtime.registry.move_alias(a.model_name, a.alias, a.version)


def tag_version(t: Target, a: act.TagVersion) -> None:
    try:
        t.runtime.registry.tag(a.model_name, a.version, a.tags)
    except Exception as exc:
        if not a.best_effort:
            raise
        logger.warning("could not tag {} v{}: {}", a.model_name, a.version, exc)


def clear_action(t: Target, a: act.ClearOperatorAction) -> None:
    body = {"metadata": {"annotations": {ACTION_ANNOTATION: None, ACTION_BY_ANNOTATION: None}}}
    t.runtime.rollouts.note(t.runtime.kube.patch(ROLLOUTS, t.ns, t.body["metadata"]["name"], body))


def call_webhook(t: Target, a: act.CallWebhook) -> None:
    """Best effort: ``hooks.run`` counts and logs a failure; nothing here may raise."""
    hook = next((h for h in t.spec.webhooks if h.name == a.name), None)
    if hook is None:
        return
    try:
        run(t.runtime.hooks, t.runtime.kube, t.name, t.ns, hook, a.status, datetime.now(UTC))
    except Exception as exc:  # a notification never blocks the rollout
        logger.warning("{}/{}: {} webhook {} not sent: {}", t.ns, t.name, a.type, a.name, exc)


APPLIERS: dict[type, Callable[[Target, Any], None]] = {
    act.EnsureCanary: ensure_canary,
    act.ScaleCanary: scale_canary,
    act.SetWeight: set_weight,
    act.SetMirror: set_mirror,
    act.ScaleCanaryDown: scale_canary_down,
    act.DeleteCanary: delete_canary,
    act.HoldStableHPAMin: hold_hpa,
    act.RestoreStableHPAMin: restore_hpa,
    act.PromoteStable: promote_stable,
    act.MoveAlias: move_alias,
    act.TagVersion: tag_version,
    act.ClearOperatorAction: clear_action,
    act.CallWebhook: call_webhook,
}
