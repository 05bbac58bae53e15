"""A watch-fed, in-memory copy of the objects a rollout reads (Deployments, HPAs, Services,
HTTPRoutes), keyed by kind, namespace and name, so a reconcile reads them without a GET.

Fed from three sources, the newest ``resourceVersion`` winning (``newer``):
- the watch events kopf delivers (``observe``, from ``handlers``);
- the responses of the controller's own GETs, applies and patches (``store``): a PATCH
  returns the whole object, so a reconcile reads its own writes before the watch event;
- the controller's own DELETEs (``forget``).

What is kept, always without ``managedFields``: with ``keep_all`` (the operator's, as an
informer keeps its kinds) every object the watch delivers, so the first read of a stable
Deployment, its HPA, Service and route is a hit, not a GET (their bodies come with the
watch's initial listing anyway); without it (bounded) only objects a ModelRollout controls
(canaries) and objects a reconcile has asked for by name (``want``). An entry is served
only once the watch of its kind has delivered something in its namespace (``watched``):
where the watch is not running (forbidden, not started yet) every read is a GET, never a
copy no watch can refresh.

Absent objects: the names of every object of a watched kind are kept (not the objects),
from the watch and from one LIST of names per kind and namespace made once the watch runs
(``complete``: the LIST covers what the watch had not delivered yet, the watch what came
after). In a complete namespace a name nobody has seen is absent: no GET, no 404 (the
canary objects before they are made). A name seen but not kept is read by a GET.

Pure logic and a lock; no I/O.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any

from controller import KIND

Obj = dict[str, Any]
Key = tuple[str, str, str]  # (plural, namespace, name)


def revision(obj: Obj | None) -> int | None:
    """The object's ``resourceVersion`` as an integer (the API server's are etcd revisions),
    ``None`` when absent or not a number."""
    raw = ((obj or {}).get("metadata") or {}).get("resourceVersion")
    if raw is None:
        return None
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return None


def newer(incoming: int | None, known: int | None) -> bool:
    """Whether a copy at ``incoming`` may replace one at ``known``. Equal revisions are the
    same object (replacing is harmless); an unreadable revision is taken as newer (it
    cannot be ordered, and the watch then corrects it)."""
    if incoming is None or known is None:
        return True
    return incoming >= known


def controlled_by_rollout(obj: Obj) -> bool:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(ref.get("controller") is True and ref.get("kind") == KIND for ref in refs)


def _slim(obj: Obj) -> Obj:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "managedFields"}
    return {**obj, "metadata": meta}


class ObjectCache:
    """The cached objects, the names asked for and recent deletions (tombstones: a copy no
    newer than the deletion is refused, so a GET that raced a delete cannot resurrect it)."""

    def __init__(
        self, kinds: frozenset[str], tombstones: int = 4096, keep_all: bool = False
    ) -> None:
        self.kinds = kinds  # plurals served from the cache
        self.keep_all = keep_all  # every object of those kinds kept, not only tracked ones
        self._objects: dict[Key, Obj] = {}
        self._wanted: set[Key] = set()
        self._watched: set[tuple[str, str]] = set()  # (plural, namespace)
        self._dead: OrderedDict[Key, int | None] = OrderedDict()
        self._names: set[Key] = set()  # every live object of a watched kind, by name
        self._complete: set[tuple[str, str]] = set()  # (plural, namespace) LISTed
        self._tombstones = tombstones
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._objects)

    def caches(self, plural: str) -> bool:
        return plural in self.kinds

    def get(self, plural: str, namespace: str, name: str) -> Obj | None:
        """A private copy of the cached object, or ``None`` when the cache cannot answer
        (not cached, or its kind not watched in that namespace): then GET it."""
        return self.lookup(plural, namespace, name)[1]

    def lookup(self, plural: str, namespace: str, name: str) -> tuple[bool, Obj | None]:
        """``(True, copy)`` for a cached object; ``(True, None)`` for one known deleted (a
        tombstone: its re-creation would reach the cache through the watch); ``(False,
        None)`` when the cache cannot answer (then GET it)."""
        key = (plural, namespace, name)
        with self._lock:
            self._wanted.add(key)
            if (plural, namespace) not in self._watched:
                return False, None
            found = self._objects.get(key)
            if found is None:
                if key in self._dead:
                    return True, None
                absent = (plural, namespace) in self._complete and key not in self._names
                return absent, None
        return True, copy.deepcopy(found)

    def peek(self, plural: str, namespace: str, name: str) -> Obj | None:
        """The cached object itself (not a copy; do not change it), without asking for it
        to be kept: ``None`` when not held. For reads that must not change what is kept."""
        with self._lock:
            return self._objects.get((plural, namespace, name))

    def watched(self, plural: str, namespace: str) -> bool:
        with self._lock:
            return (plural, namespace) in self._watched

    def listed(self, plural: str, namespace: str) -> bool:
        with self._lock:
            return (plural, namespace) in self._complete

    def complete(self, plural: str, namespace: str, names: list[str]) -> None:
        """The names a LIST made after the watch started returned: with the watch's, every
        object of the kind in ``namespace`` is now known by name (a tombstoned name, deleted
        since the LIST, is not revived)."""
        with self._lock:
            for name in names:
                key = (plural, namespace, name)
                if key not in self._dead:
                    self._names.add(key)
            self._complete.add((plural, namespace))

    def want(self, plural: str, namespace: str, name: str) -> None:
        with self._lock:
            self._wanted.add((plural, namespace, name))

    def _put(self, key: Key, obj: Obj) -> bool:
        incoming = revision(obj)
        if key in self._dead:  # only a copy strictly newer than the deletion lives
            dead = self._dead[key]
            if dead is not None and (incoming is None or incoming <= dead):
                return False
        if key in self._dead:
            del self._dead[key]
        self._names.add(key)
        known = self._objects.get(key)
        if known is not None and not newer(incoming, revision(known)):
            return False
        self._objects[key] = copy.deepcopy(_slim(obj))  # the caller may change its own
        return True

    def store(self, plural: str, obj: Obj) -> bool:
        """A copy the controller read or wrote (GET, apply, patch response); kept if its
        object is tracked and it is not older than what is held."""
        meta = obj.get("metadata") or {}
        key = (plural, str(meta.get("namespace", "")), str(meta.get("name", "")))
        if plural not in self.kinds or not key[2]:
            return False
        with self._lock:
            if not self._tracked(key, obj):
                if key not in self._dead:
                    self._names.add(key)
                return False
            return self._put(key, obj)

    def observe(self, plural: str, kind: str | None, obj: Obj) -> None:
        """A watch event (``kind``: ADDED, MODIFIED, DELETED or ``None`` for a listed one)."""
        meta = obj.get("metadata") or {}
        namespace, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
        key = (plural, namespace, name)
        with self._lock:
            self._watched.add((plural, namespace))
            if kind == "DELETED":
                self._bury(key, revision(obj))
            elif self._tracked(key, obj):
                self._put(key, obj)
            else:
                self._objects.pop(key, None)  # e.g. no longer controlled by a rollout
                dead, incoming = self._dead.get(key), revision(obj)
                if dead is None or incoming is None or incoming > dead:
                    self._names.add(key)  # alive (not an event older than its deletion)

    def _tracked(self, key: Key, obj: Obj) -> bool:
        """Whether ``obj`` is kept (under the lock)."""
        return self.keep_all or key in self._wanted or controlled_by_rollout(obj)

    def forget(self, plural: str, namespace: str, name: str, gone: Obj | None = None) -> None:
        """The controller deleted the object (``gone``: the DELETE's answer, when it is the
        object): drop it, refuse copies no newer than the deletion."""
        key = (plural, namespace, name)
        with self._lock:
            known = self._objects.get(key)
            at = revision(gone) or revision(known)
            self._objects.pop(key, None)
            self._bury(key, at)

    def _bury(self, key: Key, at: int | None) -> None:
        known = self._objects.get(key)
        if known is not None and at is not None and not newer(at, revision(known)):
            return  # a deletion older than the copy held: the object was re-created
        self._objects.pop(key, None)
        self._names.discard(key)
        if at is not None and self._dead.get(key) is not None:
            at = max(at, self._dead[key] or at)
        self._dead[key] = at
        self._dead.move_to_end(key)
        while len(self._dead) > self._tombstones:
            self._dead.popitem(last=False)


class LatestCopies:
    """Per ModelRollout, the copy its last own write (status, annotation patch) returned.

    The timer hands the reconcile kopf's copy of the object (as last watched) instead of a
    fresh GET; right after our own status patch kopf's copy may not have seen it yet, so
    the reconcile takes whichever of the two copies is newer (``pick``)."""

    def __init__(self) -> None:
        self._copies: dict[tuple[str, str], Obj] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(obj: Obj) -> tuple[str, str]:
        meta = obj.get("metadata") or {}
        return str(meta.get("namespace", "")), str(meta.get("name", ""))

    def note(self, obj: Obj) -> None:
        if not (obj.get("metadata") or {}).get("name"):
            return
        key = self._key(obj)
        with self._lock:
            known = self._copies.get(key)
            if known is None or newer(revision(obj), revision(known)):
                self._copies[key] = obj

    def pick(self, body: Obj) -> Obj:
        """``body`` or the copy our last write returned, whichever is newer; a noted copy of
        another object under the same name (different uid) is dropped."""
        key = self._key(body)
        with self._lock:
            known = self._copies.get(key)
            if known is None:
                return body
            same = (known.get("metadata") or {}).get("uid") == body["metadata"].get("uid")
            if not same or newer(revision(body), revision(known)):
                del self._copies[key]  # kopf has seen our write (or a newer one)
                return body
        return copy.deepcopy(known)

    def version(self, body: Obj) -> str | None:
        """The ``resourceVersion`` of the newer of ``body`` and the copy our last write to
        the same object returned (e.g. the action annotation cleared in this reconcile)."""
        meta = body.get("metadata") or {}
        with self._lock:
            known = self._copies.get(self._key(body))
        same = known is not None and (known.get("metadata") or {}).get("uid") == meta.get("uid")
        if same and known is not None and not newer(revision(body), revision(known)):
            return str(known["metadata"].get("resourceVersion"))
        found = meta.get("resourceVersion")
        return None if found is None else str(found)

    def drop(self, namespace: str, name: str) -> None:
        with self._lock:
            self._copies.pop((namespace, name), None)
