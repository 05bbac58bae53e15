"""The status write sends only what changed (``status.merge_patch``, ``executor.write_status``)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from controller.cache import LatestCopies
from controller.executor import diff_worth_guarding, write_status
from controller.kube import KubeError
from controller.status import Phase, merge_patch
from tests.unit.controller.factories import status

pytestmark = pytest.mark.unit

Obj = dict[str, Any]


def apply(target: Any, patch: Any) -> Any:
    """RFC 7386 applied to ``target`` (what the API server does with a merge patch)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply(result.get(key), value)
    return result


def stored(obj: Any) -> Any:
    """What the server keeps of an object written whole by a merge patch: no nulls."""
    if isinstance(obj, dict):
        return {k: stored(v) for k, v in obj.items() if v is not None}
    return obj


leaves = st.one_of(st.none(), st.integers(-3, 3), st.text(max_size=2), st.lists(st.integers(0, 2)))
trees = st.recursive(
    leaves, lambda kids: st.dictionaries(st.sampled_from("abcd"), kids), max_leaves=8
)
docs = st.dictionaries(st.sampled_from("abcdef"), trees)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs, docs)
def test_the_patch_turns_the_stored_old_into_the_stored_new(old: Obj, new: Obj) -> None:
    assert stored(apply(stored(old), merge_patch(old, new))) == stored(new)


def test_only_changed_fields_are_sent() -> None:
    old = status(Phase.PROGRESSING, step=0)
    new = old.model_copy(update={"step": 1, "canary_weight": 50})
    assert merge_patch(old.to_k8s(), new.to_k8s()) == {"step": 1, "canaryWeight": 50}
    assert merge_patch(old.to_k8s(), old.to_k8s()) == {}


class Kube:
    def __init__(self, conflict: bool = False) -> None:
        self.sent: list[Obj] = []
        self.conflict = conflict

    def patch(self, res: Any, ns: str, name: str, body: Obj, sub: str | None = None) -> Obj:
        self.sent.append(copy.deepcopy(body))
        if self.conflict and "resourceVersion" in body.get("metadata", {}):
            raise KubeError(409, "the object has been modified")
        meta = {"name": name, "namespace": ns, "uid": "u", "resourceVersion": "9"}
        return {"metadata": meta, "status": body["status"]}


def target(kube: Kube, version: str = "7") -> Any:
    meta = {"name": "r", "namespace": "ns", "uid": "u", "resourceVersion": version}
    runtime = SimpleNamespace(kube=kube, rollouts=LatestCopies())
    return SimpleNamespace(runtime=runtime, body={"metadata": meta}, ns="ns", name="r")


def test_the_changed_fields_are_written_guarded_by_the_version_read() -> None:
    old = status(Phase.PROGRESSING, step=0)
    new = old.model_copy(update={"step": 1, "phase_since": datetime(2026, 1, 1, tzinfo=UTC)})
    kube = Kube()
    write_status(target(kube), new, old.to_k8s())
    assert kube.sent == [
        {
            "metadata": {"resourceVersion": "7"},
            "status": {"step": 1, "phaseSince": "2026-01-01T00:00:00.000Z"},
        }
    ]


def test_a_conflict_writes_the_whole_status() -> None:
    old = status(Phase.PROGRESSING, step=0)
    new = old.model_copy(update={"step": 1})
    kube = Kube(conflict=True)
    write_status(target(kube), new, old.to_k8s())
    assert kube.sent[-1] == {"status": new.to_k8s()}
    assert len(kube.sent) == 2


def test_the_guard_is_our_own_newer_write_of_this_reconcile() -> None:
    old = status(Phase.PROGRESSING, step=0)
    kube, t = Kube(), target(Kube())
    t.runtime.kube = kube
    t.runtime.rollouts.note({"metadata": {**t.body["metadata"], "resourceVersion": "8"}})
    write_status(t, old.model_copy(update={"step": 1}), old.to_k8s())
    assert kube.sent[0]["metadata"] == {"resourceVersion": "8"}


def test_a_field_the_server_does_not_hold_yet_is_sent_even_at_its_default() -> None:
    """A new object's status lacks ``step``; parsed, it reads 0. The patch is taken against
    what the server holds, so ``step: 0`` is written (a diff against the parsed default
    never sent it, and a reader of the stored status found no ``step``)."""
    stored_status = {"phase": "Initializing", "canaryWeight": 0}
    new = status(Phase.PROGRESSING, step=0).model_copy(update={"canary_weight": 20})
    kube = Kube()
    write_status(target(kube), new, stored_status)
    sent = kube.sent[0]["status"]
    assert (sent["step"], sent["canaryWeight"], sent["phase"]) == (0, 20, "Progressing")
    assert stored(apply(stored_status, sent)) == stored(new.to_k8s())


def test_the_first_status_is_written_whole_without_a_guard() -> None:
    """Never written (nothing stored): one unguarded write of the whole status, not a
    guarded patch that kopf's finalizer patch has made stale (409, then the same again)."""
    new = status(Phase.INITIALIZING)
    kube = Kube(conflict=True)
    write_status(target(kube), new, {})
    assert kube.sent == [{"status": new.to_k8s()}]
    assert not diff_worth_guarding({})
    assert not diff_worth_guarding(None)
    assert diff_worth_guarding({"phase": "Pending"})
