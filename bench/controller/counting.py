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

from controller.kube import Kube, KubeError
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
        self.repeated_tags = 0  # set_model_version_tag of the value this process last set
        self.tags_written = 0  # by set_version_tags (a SQL store's tags in one transaction)
        self.seconds: dict[str, list[float]] = {}  # latency of each call, by method
        self._written: dict[tuple[str, ...], str] = {}
        self._lock = threading.Lock()

    def _count(self, name: str, inner: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
                if name == "set_model_version_tag" and len(args) >= 5:
                    key, value = tuple(map(str, args[1:4])), str(args[4])
                    self.repeated_tags += self._written.get(key) == value
                    self._written[key] = value
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                took = time.perf_counter() - started
                with self._lock:
                    self.seconds.setdefault(name, []).append(took)

        return counted

    def install(self) -> RegistryTally:
        from mlflow import MlflowClient

        for name in self.METHODS:
            setattr(MlflowClient, name, self._count(name, getattr(MlflowClient, name)))
        import services.core.registry as registry

        inner = getattr(registry, "set_version_tags", None)  # absent in older trees
        if inner is not None:
            counted = self._count("set_model_version_tags", inner)  # one transaction

            def written(*args: Any, **kwargs: Any) -> Any:
                found = counted(*args, **kwargs)
                with self._lock:
                    self.tags_written += int(found)
                return found

            registry.set_version_tags = written
        return self

    def wrap_tag(self, registry: Any) -> None:
        inner = registry.tag

        def tag(name: str, version: str, tags: dict[str, str]) -> Any:
            with self._lock:
                self.tags_asked += len(tags)
            return inner(name, version, tags)

        registry.tag = tag


def object_path(path: str) -> str:
    """The path of the object a request names (a subresource's ``/status`` dropped)."""
    return path[: -len("/status")] if path.endswith("/status") else path


def resource_version(obj: Any) -> str | None:
    meta = obj.get("metadata") if isinstance(obj, dict) else None
    found = (meta or {}).get("resourceVersion") if isinstance(meta, dict) else None
    return None if found is None else str(found)


def unchanged_write(method: str, before: str | None, after: str | None) -> bool:
    """Whether a PATCH left its object as it was: the API server keeps the
    ``resourceVersion`` of an object a patch does not change, so the version after equals
    the one known before (from the patch's own guard, our last read or the watch cache)."""
    return method == "PATCH" and before is not None and before == after


class CountingKube(Kube):
    """``Kube`` counting every request by ``call_key`` (thread-safe), the PATCHes that
    changed nothing by ``call_key`` (``unchanged``: the object's ``resourceVersion`` as
    known before equals the answer's) and the Events POSTed by reason."""

    def __init__(
        self, api: Any, field_manager: str, timeout: float = 10.0, cache: Any = None
    ) -> None:
        super().__init__(api, field_manager, timeout, cache)
        self.calls: Counter[str] = Counter()
        self.unchanged: Counter[str] = Counter()
        self.event_reasons: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()  # "409 PATCH modelrollouts/{name}/status"
        self.seconds: dict[str, list[float]] = {}  # call_key -> each request's wall time
        self._versions: dict[str, str] = {}  # object path -> last resourceVersion answered
        self._lock = threading.Lock()

    def _known_version(self, path: str, body: Any) -> str | None:
        """The object's version before a write: the patch's guard, else the watch cache's
        copy, else the last answer about that object."""
        guard = resource_version(body)
        if guard is not None:
            return guard
        parts = object_path(path).strip("/").split("/")
        if self.cache is not None and "namespaces" in parts and len(parts) >= 2:
            at = parts.index("namespaces")
            rest = parts[at + 1 :]
            if len(rest) == 3:
                peek = getattr(self.cache, "peek", None)  # absent in older controllers
                found = peek(rest[1], rest[0], rest[2]) if peek is not None else None
                if found is not None:
                    return resource_version(found)
        with self._lock:
            return self._versions.get(object_path(path))

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
        key = call_key(method, path)
        before = self._known_version(path, body) if method == "PATCH" else None
        with self._lock:
            self.calls[key] += 1
            if method == "POST" and path.endswith("/events") and isinstance(body, dict):
                self.event_reasons[str(body.get("reason"))] += 1
        started = time.perf_counter()
        try:
            answer = super().request(method, path, body, query, content_type, accept)
        except KubeError as exc:
            with self._lock:
                self.errors[f"{exc.status} {key}"] += 1
            raise
        finally:
            took = time.perf_counter() - started
            with self._lock:
                self.seconds.setdefault(key, []).append(took)
        after = resource_version(answer)
        with self._lock:
            if unchanged_write(method, before, after):
                self.unchanged[key] += 1
            if after is not None and method in ("GET", "PATCH"):
                self._versions[object_path(path)] = after
        return answer


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
