"""The operator SIGKILLed during promotion, at each step of it, finishes it exactly once.

The operator reaches the API server through ``ApiGate``, which freezes it at a chosen
request so the kill lands exactly there (see ``apigate``). One healthy rollout is
promoted while the operator is killed four times, and restarted after each kill:

1. right after it raised the stable HPA floor (the promotion is decided, not recorded);
2. right after it patched the stable Deployment onto the candidate;
3. mid rolling update of the stable Deployment (new pods up, old pods still there);
4. after traffic went back to stable, the canary was deleted, the floor given back, the
   ``champion`` alias moved and the verdict tagged — just before ``Succeeded`` is written.

Exactly once means: one ``Promoting`` and one ``Promoted`` Event, one Deployment patch and
one new ReplicaSet, the HPA floor only ever held at one value, the alias and every
verdict tag changed once in the registry (``registry_audit``), and no failed request.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from kubernetes import client

from controller.builders import HELD_FROM
from controller.kube import DEPLOYMENTS, HPAS, ROLLOUTS
from controller.rollout.records import compact
from controller.status import AnalysisRecord
from tests.e2e.checks import (
    CANARY,
    assert_promoted,
    assert_rolled_out_when_promoted,
    model_uri_of,
)
from tests.e2e.harness import kube
from tests.e2e.harness.cluster import Cluster
from tests.e2e.harness.manifests import NAME
from tests.e2e.harness.models import BaseModels
from tests.e2e.harness.operator import OperatorProcess
from tests.e2e.harness.scenario import ROLLOUT, Scenario
from tests.e2e.harness.waits import wait_for
from tests.system.controller.apigate import ApiGate, Request
from tests.system.controller.registry_audit import RegistryAudit

pytestmark = pytest.mark.system

# New stable pods count as available only this long after turning ready, so the rolling
# update keeps old pods for at least that long: the window of crash point 3.
MIN_READY_SECONDS = 30
VERDICT_TAGS = (
    "rollout.verdict",
    "rollout.reason",
    "rollout.message",
    "rollout.time",
    "rollout.stable_version",
    "rollout.failed_checks",
    "rollout.analyses",
    "rollout.last_analysis",
)


@pytest.fixture(scope="module")
def gate(cluster: Cluster) -> Iterator[ApiGate]:
    found = ApiGate.for_kubeconfig(cluster.operator_kubeconfig).start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture(scope="module")
def operator(
    gate: ApiGate, base_models: BaseModels, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The module's operator, talking to the API server through the gate."""
    workdir = tmp_path_factory.mktemp("e2e-operator")
    proc = OperatorProcess(
        gate.write_kubeconfig(workdir / "gate.kubeconfig"), base_models.tracking_uri, workdir
    )
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


# ---------------------------------------------------------------------- crash points
def _body(r: Request) -> dict[str, Any]:
    found = r.json()
    return found if isinstance(found, dict) else {}


def floor_raised(s: Scenario, r: Request) -> bool:
    annotations = _body(r).get("metadata", {}).get("annotations") or {}
    return (
        r.method == "PATCH"
        and r.path == HPAS.path(s.namespace, NAME)
        and annotations.get(HELD_FROM) is not None
    )


def stable_patched(s: Scenario, r: Request) -> bool:
    return (
        r.method == "PATCH"
        and r.path == DEPLOYMENTS.path(s.namespace, NAME)
        and s.models.candidate_uri in r.body.decode()
    )


def status_written(phase: str, text: str, s: Scenario, r: Request) -> bool:
    """A status write that leaves the rollout in ``phase`` with ``text`` in its message.
    The operator sends a merge patch of what changed (``controller.status.merge_patch``):
    a patch without a phase leaves the phase the object has now (read beside the gate,
    not through it), so a write of a new message only still counts."""
    if r.method != "PATCH" or r.path != ROLLOUTS.path(s.namespace, ROLLOUT, "status"):
        return False
    status = _body(r).get("status") or {}
    written = status.get("phase") or s.status().get("phase")
    return written == phase and text in str(status.get("message"))


@dataclass(frozen=True)
class CrashPoint:
    name: str
    match: Callable[[Scenario, Request], bool]
    forward: bool  # True: killed right after that request; False: right before it
    phase: str  # the recorded phase when the operator dies


POINTS = (
    CrashPoint("stable HPA floor raised", floor_raised, True, "Progressing"),
    CrashPoint("stable Deployment patched", stable_patched, True, "Promoting"),
    CrashPoint(
        "mid rolling update",
        partial(status_written, "Promoting", "rolling onto"),
        True,
        "Promoting",
    ),
    CrashPoint(
        "alias moved, Succeeded not yet written",
        partial(status_written, "Succeeded", ""),
        False,
        "Promoting",
    ),
)


@dataclass(frozen=True)
class Crash:
    point: str
    at: float
    phase: str | None  # recorded phase
    stable_uri: str | None  # MODEL_URI of the stable pod template
    updated: int  # stable pods on the current template
    pods: int  # stable pods of every template
    champion: str


# ---------------------------------------------------------------------- helpers
def slow_rolling_update(s: Scenario, seconds: int) -> None:
    """``minReadySeconds`` on the stable Deployment (not its template: no new revision)."""
    body = {"spec": {"minReadySeconds": seconds}}
    s.apps.patch_namespaced_deployment(NAME, s.namespace, body)


def crash_record(s: Scenario, point: CrashPoint) -> Crash:
    stable = s.deployment(NAME) or {}
    rolled = stable.get("status") or {}
    return Crash(
        point.name,
        time.time(),
        s.status().get("phase"),
        model_uri_of(s, NAME),
        int(rolled.get("updatedReplicas") or 0),
        int(rolled.get("replicas") or 0),
        s.models.champion(),
    )


def stable_replicasets(s: Scenario) -> list[dict[str, Any]]:
    listed = s.apps.list_namespaced_replica_set(s.namespace)
    return [
        rs
        for rs in kube.items(s.cluster.api, listed)
        if any(o["name"] == NAME for o in rs["metadata"].get("ownerReferences") or [])
    ]


def gone(s: Scenario, read: Callable[[str, str], object], name: str) -> bool:
    try:
        read(name, s.namespace)
    except client.ApiException as err:
        return err.status == 404
    return False


# ---------------------------------------------------------------------- the scenario
def test_operator_killed_at_each_step_of_promotion_finishes_it_exactly_once(
    make_scenario: Callable[..., Scenario],
    operator: OperatorProcess,
    gate: ApiGate,
) -> None:
    s = make_scenario(replicas=1, hpa=(1, 4))
    slow_rolling_update(s, MIN_READY_SECONDS)
    audit = RegistryAudit(s.models.tracking_uri).install()
    mark, starts = audit.mark(), operator.starts
    load = s.start_load()
    crashes: list[Crash] = []

    trip = gate.arm(partial(POINTS[0].match, s), forward=POINTS[0].forward)
    s.apply_rollout(canary={"steps": [50]}, autoscaling={"minReplicas": 2, "maxReplicas": 2})
    for n, point in enumerate(POINTS):
        try:
            trip.wait(timeout=180)
        except TimeoutError:
            pytest.fail(f"crash point {point.name!r} never reached\n{s.describe()}")
        operator.kill()
        crashes.append(crash_record(s, point))
        gate.release()
        if n + 1 < len(POINTS):
            following = POINTS[n + 1]
            trip = gate.arm(partial(following.match, s), forward=following.forward)
        time.sleep(2)  # a moment without any operator
        operator.start()
    s.wait_phase("Succeeded", "Failed", timeout=180)
    s.wait_ready(NAME, 1, timeout=60)
    time.sleep(2)  # traffic on the promoted pods only
    stats = load.stop()
    summary = describe_run(s, gate, audit, mark, crashes)
    print(summary)  # shown with -rP

    # the kills landed where intended
    assert [c.phase for c in crashes] == [p.phase for p in POINTS], summary
    assert crashes[0].stable_uri == s.models.stable_uri, "floor raised before the patch"
    assert crashes[1].stable_uri == s.models.candidate_uri, summary
    assert crashes[2].pods > crashes[2].updated >= 1, "killed with old and new pods up"
    assert crashes[3].champion == s.models.candidate, "alias moved before the last kill"
    assert operator.starts - starts == len(POINTS)

    # promoted, once
    assert_promoted(s)
    assert_rolled_out_when_promoted(s)
    reasons = Counter(s.event_reasons())
    assert (reasons["Promoting"], reasons["Promoted"]) == (1, 1), summary
    assert not {"RollingBack", "Failed"} & set(s.recorder.phases()), s.recorder.phases()

    # the stable Deployment: patched once, one new ReplicaSet (revision 2)
    assert len(gate.writes(partial(stable_patched, s))) == 1, summary
    replicasets = stable_replicasets(s)
    assert len(replicasets) == 2, [kube.name(rs) for rs in replicasets]
    stable = s.deployment(NAME)
    assert stable is not None
    revision = kube.annotations_of(stable).get("deployment.kubernetes.io/revision")
    assert revision == "2", revision

    # the HPA floor: held at one value (1 stable + 1 canary), then given back
    held = {_body(r)["spec"]["minReplicas"] for r in gate.writes(partial(floor_raised, s))}
    assert held == {2}, summary
    seen = {x.hpa_min[NAME] for x in s.recorder.samples if NAME in x.hpa_min}
    assert max(seen) == 2, seen
    hpa = s.recorder.sample().hpa_min
    assert hpa[NAME] == 1, "floor given back"
    assert s.status().get("promotion") is None

    # the canary removed
    wait_for(lambda: s.deployment(CANARY) is None, 30, "canary Deployment removed")
    assert gone(s, s.core.read_namespaced_service, CANARY)
    autoscaling = client.AutoscalingV2Api(s.cluster.api)
    assert gone(s, autoscaling.read_namespaced_horizontal_pod_autoscaler, CANARY)

    # the registry: champion moved once, every verdict tag written once
    writes = audit.writes(s.models.name, after=mark)
    aliases = [(w.key, w.version) for w in writes if w.kind == "alias"]
    assert aliases == [("champion", s.models.candidate)], summary
    verdict = Counter(w.key for w in writes if w.kind == "tag" and w.key in VERDICT_TAGS)
    assert verdict == dict.fromkeys(VERDICT_TAGS, 1), summary
    tags = s.models.tags(s.models.candidate)
    assert tags["rollout.verdict"] == "promoted"
    assert_analysis_tags_match_history(s, tags)

    assert stats.failures == [], stats.reasons()
    assert stats.counts()["canary"].ok > 0


def assert_analysis_tags_match_history(s: Scenario, tags: dict[str, str]) -> None:
    """The analysis records on the version are the ones the status kept (an analysis
    redone after a kill overwrote the record of the unrecorded one)."""
    status = s.status()
    history = [AnalysisRecord.model_validate(r) for r in status.get("history") or []]
    first = int(status["analysisCount"]) - len(history) + 1
    for number, record in enumerate(history, start=first):
        assert tags.get(f"rollout.analysis.{number:03d}") == compact(record), number


def describe_run(
    s: Scenario, gate: ApiGate, audit: RegistryAudit, mark: int, crashes: list[Crash]
) -> str:
    """The run as text: kills, the operator's writes, registry writes, Events."""
    start = min((r.at for r in gate.writes()), default=0.0)
    lines = []
    for c in crashes:
        after = [r for r in gate.writes() if r.at > c.at and s.namespace in r.path]
        first = f"{after[0].at - c.at:.1f}s later" if after else "never"
        lines.append(f"kill at {c.at - start:6.1f}s: {c} (next write {first})")
    interesting = (HPAS.path(s.namespace, NAME), DEPLOYMENTS.path(s.namespace, NAME))
    for r in gate.writes(lambda r: r.path.startswith(interesting) or "/status" in r.path):
        if s.namespace in r.path:
            status = _body(r).get("status") or {}
            what = status.get("phase") or r.body.decode(errors="replace")[:120]
            lines.append(
                f"write {r.at - start:6.1f}s {r.method} {r.path.rsplit('/', 2)[-2:]} {what}"
            )
    lines += [f"registry: {w}" for w in audit.writes(s.models.name, after=mark)]
    lines.append(f"events: {s.event_reasons()}")
    return "\n".join(lines)
