"""Counting stand-ins for the adapters the controller's ``Runtime`` holds (benchmark only)
and the pure figures the scale benchmark reports.

``CountingKube`` is the controller's own ``Kube`` that also tallies each API request by
verb and resource; ``CountingMetrics`` wraps each ``MetricsSource`` the factory builds and
tallies readiness probes and PromQL queries with their latency. Neither changes a request.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from controller.kube import Kube
from controller.prometheus import MetricsSource, Sample
from controller.runtime import MetricsFactory
from controller.spec import RolloutSpec

TERMINAL = ("Succeeded", "Failed")


def call_key(method: str, path: str) -> str:
    """``GET deployments/{name}``, ``GET horizontalpodautoscalers`` (a LIST), ``PATCH
    modelrollouts/{name}/status``: the shape of a request, without names."""
    parts = path.strip("/").split("/")
    named = "namespaces" in parts
    rest = parts[parts.index("namespaces") + 2 :] if named else parts[-1:]
    if not rest:
        return f"{method} {path}"
    shape = [rest[0], *("{name}" for _ in rest[1:2]), *rest[2:]]
    return f"{method} {'/'.join(shape)}"


class RegistryTally:
    """Counts the MLflow client calls of the process by method (``install`` wraps them on
    ``MlflowClient``) and the tags the controller's decisions asked for (``wrap_tag``)."""

    METHODS = (
        "get_model_version",
        "get_model_version_by_alias",
        "set_model_version_tag",
        "set_registered_model_alias",
    )

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.tags_asked = 0
        self._lock = threading.Lock()

    def _count(self, name: str, inner: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
            return inner(*args, **kwargs)

        return counted

    def install(self) -> RegistryTally:
        from mlflow import MlflowClient

        for name in self.METHODS:
            setattr(MlflowClient, name, self._count(name, getattr(MlflowClient, name)))
        return self

    def wrap_tag(self, registry: Any) -> None:
        inner = registry.tag

        def tag(name: str, version: str, tags: dict[str, str]) -> Any:
            with self._lock:
                self.tags_asked += len(tags)
            return inner(name, version, tags)

        registry.tag = tag


class CountingKube(Kube):
    """``Kube`` counting every request by ``call_key`` (thread-safe)."""

    def __init__(
        self, api: Any, field_manager: str, timeout: float = 10.0, cache: Any = None
    ) -> None:
        super().__init__(api, field_manager, timeout, cache)
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    @classmethod
    def like(cls, kube: Kube) -> CountingKube:
        return cls(kube.api, kube.field_manager, kube.timeout, kube.cache)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> dict[str, Any]:
        with self._lock:
            self.calls[call_key(method, path)] += 1
        return super().request(method, path, body, query, content_type, accept)


class MetricsTally:
    """What every ``CountingMetrics`` of one process counted."""

    def __init__(self) -> None:
        self.sources = 0  # distinct MetricsSource objects the factory handed out
        self.probes = 0  # online(): GET /-/ready
        self.queries = 0  # PromQL instant queries (scalar and vector)
        self.seconds: list[float] = []  # latency of each query
        self._seen: dict[int, object] = {}
        self._lock = threading.Lock()

    def source(self, built: object) -> None:
        """Count ``built`` once, however often the factory hands it out (a shared one)."""
        with self._lock:
            if id(built) not in self._seen:
                self._seen[id(built)] = built
                self.sources += 1

    def http_probes(self) -> int:
        """``/-/ready`` requests really sent: a source that counts them (``probes``, the
        shared HTTP ones trust an answer a while) says so; else each ``online()`` call."""
        with self._lock:
            counted = [getattr(s, "probes", None) for s in self._seen.values()]
        if any(c is None for c in counted):
            return self.probes
        return sum(int(c or 0) for c in counted)

    def add(self, kind: str, seconds: float = 0.0) -> None:
        with self._lock:
            if kind == "probe":
                self.probes += 1
            else:
                self.queries += 1
                self.seconds.append(seconds)


class CountingMetrics:
    """A ``MetricsSource`` that reports each call to a ``MetricsTally``."""

    def __init__(self, inner: MetricsSource, tally: MetricsTally) -> None:
        self.inner, self.tally = inner, tally

    def online(self) -> bool:
        self.tally.add("probe")
        return self.inner.online()

    def query(self, promql: str, name: str = "") -> float | None:
        started = time.perf_counter()
        try:
            return self.inner.query(promql, name)
        finally:
            self.tally.add("query", time.perf_counter() - started)

    def query_vector(self, promql: str, name: str = "") -> list[Sample]:
        started = time.perf_counter()
        try:
            return self.inner.query_vector(promql, name)
        finally:
            self.tally.add("query", time.perf_counter() - started)


def counting_factory(inner: MetricsFactory, tally: MetricsTally) -> MetricsFactory:
    def build(spec: RolloutSpec) -> MetricsSource:
        built = inner(spec)
        tally.source(built)
        return CountingMetrics(built, tally)

    return build


# --------------------------------------------------------------------- pure figures
def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) by linear interpolation; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = q * (len(ordered) - 1)
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def verdicts(failing: Mapping[str, bool], phases: Mapping[str, str | None]) -> dict[str, list[str]]:
    """Sort rollouts by outcome: ``wrong`` (a healthy candidate Failed or a failing one
    Succeeded), ``unfinished`` (no terminal phase), ``right`` (the rest)."""
    found: dict[str, list[str]] = {"right": [], "wrong": [], "unfinished": []}
    for name, bad in failing.items():
        phase = phases.get(name)
        if phase not in TERMINAL:
            found["unfinished"].append(name)
        elif (phase == "Failed") != bad:
            found["wrong"].append(name)
        else:
            found["right"].append(name)
    return found


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def analysis_lateness(history: Sequence[Mapping[str, Any]], interval: float) -> list[float]:
    """Seconds each analysis came after the previous one beyond ``interval`` (the
    controller analyses at most once per interval; more is lag)."""
    times = sorted(_time(str(record["time"])) for record in history)
    return [
        max(0.0, (later - earlier).total_seconds() - interval)
        for earlier, later in itertools.pairwise(times)
    ]


def rollback_reaction(status: Mapping[str, Any]) -> float | None:
    """Seconds from the analysis that failed a rollout to its ``Failed`` phase (``None``
    unless the rollout failed after an analysis)."""
    last = status.get("lastAnalysis") or {}
    if status.get("phase") != "Failed" or not last.get("time") or not status.get("phaseSince"):
        return None
    return (_time(str(status["phaseSince"])) - _time(str(last["time"]))).total_seconds()
