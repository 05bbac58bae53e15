"""Model versions (or their contracts) kept loaded: a small least-recently-used cache keyed
by a concrete URI (``models:/name/N``, a runs URI or a folder), never by an alias.

Batch workers keep the versions jobs pinned at submit (``BATCH_MODEL_CACHE_SIZE``), the
batch API the contracts it checks submissions with. A chunk asks for its job's version;
the first chunk of a version loads it (download, checks, probe) and later chunks of any
job pinned to it reuse it. When more versions are held than ``size``, the one used longest
ago is dropped: during a promotion a worker holds the old and the new champion, so jobs on
either side of the promotion run side by side without reloading. Memory: each entry holds
one booster and its contract, so a worker needs about ``size`` × the booster's size.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from loguru import logger

T = TypeVar("T")


class VersionCache(Generic[T]):
    """At most ``size`` loaded values by key, least recently used evicted first; ``load``
    is called only on a miss, and an exception it raises leaves the cache unchanged."""

    def __init__(self, load: Callable[[str], T], size: int) -> None:
        if size < 1:
            raise ValueError("a version cache holds at least one version")
        self._load = load
        self.size = size
        self._held: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0

    def get(self, key: str) -> T:
        with self._lock:  # one load at a time: two chunks of a new version load it once
            if key in self._held:
                self._held.move_to_end(key)
                return self._held[key]
            value = self._load(key)
            self.loads += 1
            self._held[key] = value
            while len(self._held) > self.size:
                dropped, _ = self._held.popitem(last=False)
                logger.info("model {} dropped from the worker's cache", dropped)
            return value

    def held(self) -> list[str]:
        """Held keys, least recently used first."""
        with self._lock:
            return list(self._held)
