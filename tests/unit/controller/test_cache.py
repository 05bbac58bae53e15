"""The read cache's pure logic: resourceVersion ordering, tracking, read-your-writes."""

from __future__ import annotations

from typing import Any

import pytest

from controller import KIND
from controller.cache import LatestCopies, ObjectCache, newer, revision
from controller.kube import CACHED

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
DEP = "deployments"


def obj(name: str, rv: str | None, owned: bool = False, **fields: Any) -> Obj:
    meta: Obj = {"name": name, "namespace": "ns", "managedFields": [{"big": 1}]}
    if rv is not None:
        meta["resourceVersion"] = rv
    if owned:
        meta["ownerReferences"] = [{"kind": KIND, "controller": True, "uid": "u"}]
    return {"kind": "Deployment", "metadata": meta, **fields}


def watched(cache: ObjectCache) -> ObjectCache:
    """The watch has delivered something for deployments in ``ns``."""
    cache.observe(DEP, None, obj("other", "1"))
    return cache


def test_revisions_order_as_numbers() -> None:
    assert revision(obj("a", "10")) == 10
    assert revision(obj("a", None)) is None
    assert revision(obj("a", "x")) is None
    assert newer(10, 9)
    assert newer(10, 10)
    assert not newer(9, 10)
    assert newer(None, 10)
    assert newer(10, None)


def test_nothing_is_served_before_the_watch_runs() -> None:
    cache = ObjectCache(CACHED)
    assert cache.get(DEP, "ns", "a") is None  # asked for: now wanted
    assert cache.store(DEP, obj("a", "5"))
    assert cache.get(DEP, "ns", "a") is None  # kept, but no watch could refresh it
    watched(cache)
    found = cache.get(DEP, "ns", "a")
    assert found is not None
    assert revision(found) == 5


def test_an_older_copy_never_replaces_a_newer_one() -> None:
    cache = watched(ObjectCache(CACHED))
    cache.want(DEP, "ns", "a")
    cache.observe(DEP, "MODIFIED", obj("a", "7", spec={"replicas": 2}))
    assert not cache.store(DEP, obj("a", "6", spec={"replicas": 1}))  # a slow GET
    cache.observe(DEP, "MODIFIED", obj("a", "5", spec={"replicas": 9}))  # a late event
    assert cache.get(DEP, "ns", "a") == {
        "kind": "Deployment",
        "metadata": {"name": "a", "namespace": "ns", "resourceVersion": "7"},
        "spec": {"replicas": 2},
    }  # managedFields dropped


def test_a_write_is_read_back_before_its_watch_event() -> None:
    cache = watched(ObjectCache(CACHED))
    cache.want(DEP, "ns", "a")
    cache.observe(DEP, None, obj("a", "3", spec={"replicas": 1}))
    assert cache.store(DEP, obj("a", "8", spec={"replicas": 0}))  # the PATCH's answer
    found = cache.get(DEP, "ns", "a")
    assert found is not None
    assert found["spec"] == {"replicas": 0}
    cache.observe(DEP, "MODIFIED", obj("a", "8", spec={"replicas": 0}))  # then the event


def test_only_tracked_objects_are_kept() -> None:
    cache = watched(ObjectCache(CACHED))
    cache.observe(DEP, None, obj("stranger", "2"))
    assert not cache.store(DEP, obj("stranger", "3"))
    assert cache.get(DEP, "ns", "stranger") is None
    cache.observe(DEP, None, obj("canary", "2", owned=True))  # a rollout controls it
    assert cache.get(DEP, "ns", "canary") is not None
    assert not cache.store("modelrollouts", obj("x", "1", owned=True))  # kind not cached
    assert len(cache) == 1


def test_keep_all_keeps_every_watched_object_of_the_kinds() -> None:
    cache = watched(ObjectCache(CACHED, keep_all=True))
    cache.observe(DEP, None, obj("stranger", "2"))  # the watch's listing: no one asked
    found = cache.get(DEP, "ns", "stranger")
    assert found is not None
    assert found["metadata"]["resourceVersion"] == "2"
    assert "managedFields" not in found["metadata"]
    assert cache.store(DEP, obj("stranger", "3"))  # a newer copy (a write's answer) kept
    cache.observe(DEP, "MODIFIED", obj("stranger", "2"))  # older: refused
    assert cache.get(DEP, "ns", "stranger")["metadata"]["resourceVersion"] == "3"  # type: ignore[index]
    cache.observe(DEP, "DELETED", obj("stranger", "4"))
    assert cache.lookup(DEP, "ns", "stranger") == (True, None)  # gone, known gone
    assert not cache.store(DEP, obj("stranger", "3"))  # a racing GET cannot resurrect it
    assert not cache.store("modelrollouts", obj("x", "1"))  # kind not cached


def test_keep_all_serves_nothing_before_the_watch_runs() -> None:
    cache = ObjectCache(CACHED, keep_all=True)
    cache.store(DEP, obj("s", "1"))  # e.g. a GET's answer: held, but no watch refreshes it
    assert cache.lookup(DEP, "ns", "s") == (False, None)


def test_a_deleted_object_is_gone_and_stays_gone() -> None:
    cache = watched(ObjectCache(CACHED))
    cache.want(DEP, "ns", "a")
    cache.observe(DEP, None, obj("a", "4"))
    cache.observe(DEP, "DELETED", obj("a", "9"))
    assert cache.lookup(DEP, "ns", "a") == (True, None)  # known gone: no GET
    assert cache.lookup(DEP, "ns", "never-seen") == (False, None)  # unknown: GET it
    assert not cache.store(DEP, obj("a", "4"))  # a GET that raced the deletion
    assert cache.store(DEP, obj("a", "12"))  # re-created later
    assert cache.get(DEP, "ns", "a") is not None


def test_a_late_deletion_event_of_the_old_object_spares_the_new_one() -> None:
    cache = watched(ObjectCache(CACHED))
    cache.want(DEP, "ns", "a")
    cache.store(DEP, obj("a", "20"))
    cache.observe(DEP, "DELETED", obj("a", "15"))
    assert cache.get(DEP, "ns", "a") is not None


def test_our_own_delete_drops_the_object() -> None:
    cache = watched(ObjectCache(CACHED))
    cache.want(DEP, "ns", "a")
    cache.store(DEP, obj("a", "4"))
    cache.forget(DEP, "ns", "a", {"kind": "Status", "metadata": {}})
    assert cache.get(DEP, "ns", "a") is None
    assert not cache.store(DEP, obj("a", "4"))  # the watch's copy before the deletion
    cache.observe(DEP, "MODIFIED", obj("a", "3"))
    assert cache.get(DEP, "ns", "a") is None


def test_tombstones_are_bounded() -> None:
    cache = watched(ObjectCache(CACHED, tombstones=2))
    for name in "abc":
        cache.observe(DEP, "DELETED", obj(name, "5"))
    assert cache.store(
        DEP, {**obj("a", "1"), "metadata": {**obj("a", "1", owned=True)["metadata"]}}
    )


def test_a_served_copy_is_private() -> None:
    cache = watched(ObjectCache(CACHED))
    cache.want(DEP, "ns", "a")
    written = obj("a", "2", spec={"replicas": 1})
    cache.store(DEP, written)
    written["spec"]["replicas"] = 5  # the caller changes its object
    found = cache.get(DEP, "ns", "a")
    assert found is not None
    assert found["spec"]["replicas"] == 1
    found["spec"]["replicas"] = 7
    again = cache.get(DEP, "ns", "a")
    assert again is not None
    assert again["spec"]["replicas"] == 1


def rollout(rv: str, phase: str, uid: str = "u") -> Obj:
    meta = {"name": "r", "namespace": "ns", "uid": uid, "resourceVersion": rv}
    return {"metadata": meta, "status": {"phase": phase}}


def test_the_rollout_copy_our_write_returned_wins_while_newer() -> None:
    copies = LatestCopies()
    assert copies.pick(rollout("5", "Initializing"))["status"]["phase"] == "Initializing"
    copies.note(rollout("6", "Progressing"))  # our status patch's answer
    assert copies.pick(rollout("5", "Initializing"))["status"]["phase"] == "Progressing"
    assert copies.pick(rollout("7", "Progressing"))["metadata"]["resourceVersion"] == "7"
    assert copies.pick(rollout("5", "Initializing"))["status"]["phase"] == "Initializing"


def test_a_noted_copy_of_an_older_object_of_that_name_is_ignored() -> None:
    copies = LatestCopies()
    copies.note(rollout("9", "Failed", uid="old"))
    assert copies.pick(rollout("3", "Initializing", uid="new"))["status"]["phase"] == (
        "Initializing"
    )
    copies.note(rollout("9", "Failed"))
    copies.drop("ns", "r")
    assert copies.pick(rollout("3", "Initializing"))["status"]["phase"] == "Initializing"


def test_a_complete_namespace_answers_absent_names_without_a_get() -> None:
    cache = watched(ObjectCache(CACHED))
    assert cache.lookup(DEP, "ns", "canary") == (False, None)  # not listed yet: GET it
    cache.complete(DEP, "ns", ["stable"])
    assert cache.lookup(DEP, "ns", "canary") == (True, None)  # nobody has seen it: absent
    assert cache.lookup(DEP, "ns", "stable") == (False, None)  # exists, not kept: GET it
    assert cache.lookup(DEP, "other", "canary") == (False, None)  # another namespace
    cache.observe(DEP, "ADDED", obj("made-by-someone", "9"))  # not tracked, but alive
    assert cache.lookup(DEP, "ns", "made-by-someone") == (False, None)
    assert cache.store(DEP, obj("canary", "10", owned=True))  # our own apply
    found = cache.lookup(DEP, "ns", "canary")[1]
    assert found is not None
    assert revision(found) == 10
    cache.forget(DEP, "ns", "canary", obj("canary", "11"))
    assert cache.lookup(DEP, "ns", "canary") == (True, None)
    cache.observe(DEP, "DELETED", obj("made-by-someone", "12"))
    assert cache.lookup(DEP, "ns", "made-by-someone") == (True, None)
    cache.observe(DEP, "ADDED", obj("made-by-someone", "13"))  # re-created (asked for: kept)
    again = cache.lookup(DEP, "ns", "made-by-someone")[1]
    assert again is not None
    assert revision(again) == 13


def test_a_listed_name_deleted_meanwhile_stays_deleted() -> None:
    cache = watched(ObjectCache(CACHED))
    cache.observe(DEP, "DELETED", obj("gone", "5"))
    cache.complete(DEP, "ns", ["gone"])  # a LIST that started before the deletion
    assert cache.lookup(DEP, "ns", "gone") == (True, None)


class ListingKube:
    """``Kube`` with its requests answered here (the unit is ``get``'s use of the cache)."""

    def __init__(self, cache: ObjectCache, names: list[str]) -> None:
        from controller.kube import Kube, KubeError

        self.sent: list[tuple[str, str, dict[str, str] | None]] = []
        outer = self

        class Fake(Kube):
            def request(
                self,
                method: str,
                path: str,
                body: Any = None,
                query: Any = None,
                content_type: str = "",
                accept: str = "",
            ) -> Obj:
                outer.sent.append((method, path, query))
                if query is not None and "limit" in query:
                    if "continue" not in query:
                        items = [{"metadata": {"name": n}} for n in names[:1]]
                        return {"metadata": {"continue": "t"}, "items": items}
                    return {"metadata": {}, "items": [{"metadata": {"name": n}} for n in names[1:]]}
                raise KubeError(404, "not found")

        self.kube = Fake(None, "test", cache=cache)  # type: ignore[arg-type]


def test_get_lists_names_once_then_reads_absent_names_without_requests() -> None:
    from controller.kube import DEPLOYMENTS

    cache = ObjectCache(CACHED)
    fake = ListingKube(cache, ["stable", "other"])
    assert fake.kube.get(DEPLOYMENTS, "ns", "canary") is None  # no watch yet: a GET (404)
    assert [m for m, _, _ in fake.sent] == ["GET"]
    watched(cache)
    fake.sent.clear()
    assert fake.kube.get(DEPLOYMENTS, "ns", "canary") is None
    assert [q for _, _, q in fake.sent] == [{"limit": "500"}, {"limit": "500", "continue": "t"}]
    fake.sent.clear()
    assert fake.kube.get(DEPLOYMENTS, "ns", "canary2") is None
    assert fake.sent == []  # absent, known without a request
    assert fake.kube.get(DEPLOYMENTS, "ns", "other") is None  # listed: GET (here a 404)
    assert len(fake.sent) == 1
