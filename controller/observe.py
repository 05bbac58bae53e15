"""Gather the decision's inputs: Deployments and HPA from the API, candidate and contract
from MLflow, canary figures from Prometheus (only when an analysis is due), the canary
pods' paired figures (only when the shadow phase reads them), the answers of the webhooks
due (``rollout.due.hooks_due``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from controller import ACTION_ANNOTATION, ACTION_BY_ANNOTATION
from controller.builders import HELD_FROM, env_value
from controller.builders.meta import BASELINE_MODEL_URI, MODEL_URI, SHADOW_NAMES
from controller.hooks import call_due
from controller.kube import DEPLOYMENTS, HPAS, Kube
from controller.mlflow_adapter import RegistryError
from controller.prometheus import gather, gather_paired
from controller.queries import build_queries, paired_queries, scope_for
from controller.rollout import HPAReading, Readings, WorkloadReading, analysis_due
from controller.rollout.progress import canary_paired_due
from controller.rollout.readings import ContractCheck, MetricReadings, PairedReadings
from controller.rollout.shadow import shadow_due, shadow_window
from controller.runtime import Runtime
from controller.spec import RolloutSpec
from controller.status import ACTIVE, Phase, RolloutStatus

Obj = dict[str, Any]


def workload(obj: Obj | None, container: str | None) -> WorkloadReading:
    if obj is None:
        return WorkloadReading()
    status = obj.get("status") or {}
    generation = obj["metadata"].get("generation", 0)
    return WorkloadReading(
        exists=True,
        replicas=int(obj["spec"].get("replicas", 1)),
        ready=int(status.get("readyReplicas", 0)),
        updated=int(status.get("updatedReplicas", 0)),
        total=int(status.get("replicas", 0)),
        observed=int(status.get("observedGeneration", 0)) >= generation,
        model_uri=env_value(obj, MODEL_URI, container),
        baseline_uri=env_value(obj, BASELINE_MODEL_URI, container),
        shadow=any(_true(env_value(obj, n, container)) for n in SHADOW_NAMES),
    )


def _true(value: str | None) -> bool:
    """As pydantic reads a bool setting (the inference service's ``shadow``)."""
    return (value or "").strip().lower() in {"1", "true", "t", "yes", "y", "on"}


def scales(hpa: Obj | None, deployment: str) -> bool:
    """Whether ``hpa`` (an object or ``None``) scales the Deployment ``deployment``."""
    target = (hpa or {}).get("spec", {}).get("scaleTargetRef") or {}
    return target.get("kind") == "Deployment" and target.get("name") == deployment


def hpa_reading(hpa: Obj) -> HPAReading:
    held = (hpa["metadata"].get("annotations") or {}).get(HELD_FROM)
    return HPAReading(
        hpa["metadata"]["name"],
        int(hpa["spec"].get("minReplicas", 1)),
        int(hpa["spec"]["maxReplicas"]),
        int(held) if held else None,
    )


def stable_hpa(
    kube: Kube, namespace: str, deployment: str, names: dict[tuple[str, str], str] | None = None
) -> HPAReading | None:
    """The HPA whose scale target is the stable Deployment, if there is one.

    Read by name (the one found last time, in ``names``, else the Deployment's own name)
    when that HPA still scales the Deployment; else the namespace's HPAs are listed (a
    LIST grows with the namespace) and the one found is remembered in ``names``."""
    key, known = (namespace, deployment), names if names is not None else {}
    for name in dict.fromkeys((known.get(key, deployment), deployment)):
        hpa = kube.get(HPAS, namespace, name)
        if scales(hpa, deployment):
            assert hpa is not None
            known[key] = name
            return hpa_reading(hpa)
    for hpa in kube.list(HPAS, namespace):
        if scales(hpa, deployment):
            known[key] = hpa["metadata"]["name"]
            return hpa_reading(hpa)
    known.pop(key, None)
    return None


def _version(runtime: Runtime, uri: str | None) -> str | None:
    if not uri or not uri.startswith("models:/"):
        return None
    try:
        return runtime.registry.resolve(uri)[1]
    except RegistryError:
        return None


def _contract(
    runtime: Runtime, stable_uri: str | None, status: RolloutStatus
) -> ContractCheck | None:
    if status.phase is not Phase.INITIALIZING or not stable_uri:
        return None
    candidate = f"models:/{status.model_name}/{status.canary_version}"
    try:
        return runtime.registry.check(stable_uri, candidate)
    except RegistryError:
        return None  # MLflow unreachable: hold, the progress deadline bounds it


def contracts_next(old: RolloutStatus, new: RolloutStatus) -> bool:
    """Whether the next tick checks the candidate's contract (``_contract``): the decision
    enters Initializing (a new attempt) and names its candidate."""
    entering = new.phase is Phase.INITIALIZING and old.phase is not Phase.INITIALIZING
    return entering and bool(new.model_name and new.canary_version)


def warm_contracts(
    runtime: Runtime, readings: Readings, old: RolloutStatus, new: RolloutStatus
) -> int:
    """When the next tick will check the contract (``contracts_next``), load the stable's
    and the candidate's contracts now, in the background (``runtime.warm``), so that tick
    finds them loaded instead of loading them itself: 1,000 rollouts started together
    otherwise load their ~50 versions in the reconciles of their second tick. Changes no
    reading: the check reads the same contracts, only sooner. How many loads were queued."""
    if runtime.warm is None or not contracts_next(old, new):
        return 0
    candidate = f"models:/{new.model_name}/{new.canary_version}"
    return runtime.registry.warm((readings.stable.model_uri, candidate), runtime.warm)


def _metrics(runtime: Runtime, spec: RolloutSpec, status: RolloutStatus, ns: str) -> MetricReadings:
    scope = scope_for(spec, status.model_name or "", status.canary_version or "", ns)
    return gather(runtime.metrics_source(spec), build_queries(spec, scope), runtime.queries)


def _paired(
    runtime: Runtime, spec: RolloutSpec, status: RolloutStatus, ns: str, now: datetime
) -> PairedReadings | None:
    """The canary pods' paired counters: over the shadow phase so far while it is due, over
    the analysis window at a canary analysis (``shadow.canaryGates``), else not read."""
    scope = scope_for(spec, status.model_name or "", status.canary_version or "", ns)
    if shadow_due(spec, status, now):
        scope = replace(scope, window=shadow_window(status, now))
        baseline = (status.shadow.baseline_version if status.shadow else None) or ""
    elif canary_paired_due(spec, status, now):
        baseline = status.stable_version or ""
    else:
        return None
    source = runtime.metrics_source(spec)
    return gather_paired(source, paired_queries(scope, baseline), runtime.queries)


def observe(
    runtime: Runtime, body: Obj, spec: RolloutSpec, status: RolloutStatus, now: datetime
) -> Readings:
    """The readings of this tick. The canary Deployment and the Prometheus figures are read
    on ``runtime.reads`` meanwhile the rest is read here; all are in before any webhook is
    called, so a failed read calls none (as when everything was read in turn)."""
    meta, kube = body["metadata"], runtime.kube
    ns, container = meta["namespace"], spec.target_ref.container
    due = analysis_due(spec, status, now)
    canary_obj = runtime.reads.submit(kube.get, DEPLOYMENTS, ns, spec.canary_name)
    metrics = runtime.reads.submit(_metrics, runtime, spec, status, ns) if due else None
    paired = runtime.reads.submit(_paired, runtime, spec, status, ns, now)
    stable_obj = kube.get(DEPLOYMENTS, ns, spec.target_ref.name)
    stable = workload(stable_obj, container)
    name, version, error = None, None, ""
    try:
        name, version = runtime.registry.resolve(spec.model.uri)
    except RegistryError as exc:
        error = str(exc)
    annotations = meta.get("annotations") or {}
    hpa_needed = stable_obj is not None and status.phase in ACTIVE  # read at promotion
    hpa = stable_hpa(kube, ns, spec.target_ref.name, runtime.hpa_names) if hpa_needed else None
    stable_version = _version(runtime, stable.model_uri)
    contract = _contract(runtime, stable.model_uri, status)
    readings = Readings(
        generation=int(meta.get("generation", 1)),
        deleting=meta.get("deletionTimestamp") is not None,
        action=annotations.get(ACTION_ANNOTATION),
        action_by=annotations.get(ACTION_BY_ANNOTATION),
        model_name=name,
        candidate_version=version,
        candidate_error=error,
        stable_version=stable_version,
        stable=stable,
        canary=workload(canary_obj.result(), container),
        stable_hpa=hpa,
        contract=contract,
        metrics=metrics.result() if metrics is not None else None,
        paired=paired.result(),
    )
    return replace(readings, hooks=call_due(runtime.hooks, kube, body, spec, status, now))
