"""The metrics adapter: a tiny ``MetricsSource`` protocol, its Prometheus HTTP
implementation and an in-memory fake, plus ``gather`` which turns a QuerySet into the
``MetricReadings`` the decision function judges.

"No data" (an empty result, NaN) is ``None``; an unreachable Prometheus raises
``PrometheusUnavailable`` and becomes an inconclusive analysis, never a pass or a fail.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any, Protocol, TypeVar

import httpx

from controller.queries import PairedQueries, QuerySet
from controller.rollout.readings import MetricReadings, PairedReadings

Sample = tuple[dict[str, str], float]
T = TypeVar("T")


class PrometheusUnavailable(Exception):
    """Prometheus did not answer (connection error, timeout, 5xx, not ready)."""


class QueryError(Exception):
    """Prometheus answered but refused or could not reduce the query (bad PromQL)."""


class MetricsSource(Protocol):
    def online(self) -> bool: ...

    def query(self, promql: str, name: str = "") -> float | None:
        """One instant value of ``promql`` (``name`` is the gate, for logs and fakes)."""
        ...

    def query_vector(self, promql: str, name: str = "") -> list[Sample]:
        """Every series of an instant vector as (labels, value); NaN samples left out."""
        ...


def _number(text: Any) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def parse_vector(data: dict[str, Any]) -> list[Sample]:
    if data.get("resultType") != "vector":
        raise QueryError(f"expected an instant vector, got {data.get('resultType')}")
    found = []
    for item in data.get("result") or []:
        value = _number(item["value"][1])
        if value is not None:
            found.append((dict(item.get("metric") or {}), value))
    return found


def parse_result(data: dict[str, Any]) -> float | None:
    """The single value of an instant query result (vector of ≤1 sample, or scalar)."""
    kind, result = data.get("resultType"), data.get("result") or []
    if kind == "scalar":
        return _number(result[1])
    if kind != "vector":
        raise QueryError(f"expected an instant vector or scalar, got {kind}")
    if not result:
        return None
    if len(result) > 1:
        raise QueryError(f"query returned {len(result)} series; aggregate it to one")
    return _number(result[0]["value"][1])


class HttpMetricsSource:
    """Prometheus HTTP API (``/api/v1/query``, ``/-/ready``) through httpx.

    Thread-safe (httpx's client is). With ``ready_ttl`` > 0 a ``/-/ready`` answer of 200 is
    trusted that many seconds; any other answer or a failed query asks again next time."""

    def __init__(
        self,
        address: str,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
        ready_ttl: float = 0.0,
    ):
        self.address = address.rstrip("/")
        self.client = client or httpx.Client(timeout=timeout)
        self.ready_ttl = ready_ttl
        self._ready_at: float | None = None
        self.probes = 0  # GET /-/ready requests made (for benchmarks)

    def online(self) -> bool:
        seen = self._ready_at
        if seen is not None and time.monotonic() - seen < self.ready_ttl:
            return True
        self.probes += 1
        try:
            ready = self.client.get(f"{self.address}/-/ready").status_code == 200
        except httpx.HTTPError:
            ready = False
        self._ready_at = time.monotonic() if ready else None
        return ready

    def _data(self, promql: str, name: str) -> dict[str, Any]:
        try:
            response = self.client.get(f"{self.address}/api/v1/query", params={"query": promql})
        except httpx.HTTPError as exc:
            self._ready_at = None
            raise PrometheusUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            self._ready_at = None
            raise PrometheusUnavailable(f"HTTP {response.status_code} from Prometheus")
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise QueryError(f"{name or 'query'}: {body.get('error', response.status_code)}")
        data: dict[str, Any] = body["data"]
        return data

    def query(self, promql: str, name: str = "") -> float | None:
        return parse_result(self._data(promql, name))

    def query_vector(self, promql: str, name: str = "") -> list[Sample]:
        return parse_vector(self._data(promql, name))

    def close(self) -> None:
        self.client.close()


class SharedHttpMetrics:
    """The controller's ``MetricsFactory``: one ``HttpMetricsSource`` per Prometheus
    address and timeout, kept for the process (a pooled, keep-alive ``httpx.Client`` of at
    most ``connections`` connections), its readiness trusted ``ready_ttl`` seconds."""

    def __init__(self, connections: int = 16, ready_ttl: float = 30.0) -> None:
        self.connections, self.ready_ttl = connections, ready_ttl
        self._sources: dict[tuple[str, float], HttpMetricsSource] = {}
        self._lock = threading.Lock()

    def source(self, address: str, timeout: float) -> HttpMetricsSource:
        key = (address.rstrip("/"), timeout)
        with self._lock:
            found = self._sources.get(key)
            if found is None:
                limits = httpx.Limits(
                    max_connections=self.connections, max_keepalive_connections=self.connections
                )
                client = httpx.Client(timeout=timeout, limits=limits)
                found = HttpMetricsSource(key[0], timeout, client, self.ready_ttl)
                self._sources[key] = found
            return found

    def close(self) -> None:
        with self._lock:
            for found in self._sources.values():
                found.close()
            self._sources.clear()


class FakeMetricsSource:
    """In-memory source for tests: answers by gate name (``requests`` for the count);
    ``vectors`` answers vector queries by name."""

    def __init__(
        self,
        values: Mapping[str, float | None] | Callable[[str], float | None] | None = None,
        online: bool = True,
        vectors: Mapping[str, list[Sample]] | None = None,
    ) -> None:
        self.values = values if values is not None else {}
        self.vectors = dict(vectors or {})
        self.is_online = online
        self.asked: list[tuple[str, str]] = []

    def online(self) -> bool:
        return self.is_online

    def query(self, promql: str, name: str = "") -> float | None:
        self.asked.append((name, promql))
        if not self.is_online:
            raise PrometheusUnavailable("fake Prometheus is down")
        if callable(self.values):
            return self.values(name)
        return self.values.get(name)

    def query_vector(self, promql: str, name: str = "") -> list[Sample]:
        self.asked.append((name, promql))
        if not self.is_online:
            raise PrometheusUnavailable("fake Prometheus is down")
        return list(self.vectors.get(name, []))


def run_all(calls: Sequence[Callable[[], T]], pool: Executor | None = None) -> list[T]:
    """Each call's result, in order; on ``pool`` all at once. An exception is raised as
    in a loop: the first one in order (after every call has finished)."""
    if pool is None or len(calls) < 2:
        return [call() for call in calls]
    futures = [pool.submit(call) for call in calls]
    return [future.result() for future in futures]


Answer = tuple[Any, str | None]  # a value (or "no data"), the QueryError message if any


def _scalar(source: MetricsSource, promql: str, name: str) -> Callable[[], Answer]:
    def ask() -> Answer:
        try:
            return source.query(promql, name), None
        except QueryError as exc:
            return None, f"{name}: {exc}"

    return ask


def _vector(source: MetricsSource, promql: str, name: str) -> Callable[[], Answer]:
    def ask() -> Answer:
        try:
            return tuple(source.query_vector(promql, name)), None
        except QueryError as exc:
            return (), f"{name}: {exc}"

    return ask


def _errors(answers: Sequence[Answer]) -> str:
    return "; ".join(error for _, error in answers if error)


def gather(
    source: MetricsSource, queries: QuerySet, pool: Executor | None = None
) -> MetricReadings:
    """Query the canary request count and every gate (concurrently on ``pool``; the
    readings are the same either way); a bad query is "no data" for its gate."""
    names = list(queries.gates)
    calls = [_scalar(source, queries.requests, "requests")]
    calls += [_scalar(source, queries.gates[name], name) for name in names]
    try:
        if not source.online():
            return MetricReadings.unreachable("Prometheus is not ready")
        answers = run_all(calls, pool)
    except PrometheusUnavailable as exc:
        return MetricReadings.unreachable(str(exc))
    gates = {name: answer[0] for name, answer in zip(names, answers[1:], strict=True)}
    return MetricReadings(online=True, requests=answers[0][0], gates=gates, error=_errors(answers))


def gather_paired(
    source: MetricsSource, queries: PairedQueries, pool: Executor | None = None
) -> PairedReadings:
    """The shadow phase's paired figures; a bad query is "no data" for its part."""
    calls = [
        _vector(source, queries.decisions, "pairedDecisions"),
        _vector(source, queries.bands, "pairedBands"),
        _scalar(source, queries.diff_sum, "pairedDiffSum"),
        _scalar(source, queries.diff_count, "pairedDiffCount"),
        _vector(source, queries.candidate_buckets, "candidateScore"),
        _vector(source, queries.baseline_buckets, "baselineScore"),
    ]
    try:
        if not source.online():
            return PairedReadings.unreachable("Prometheus is not ready")
        answers = run_all(calls, pool)
    except PrometheusUnavailable as exc:
        return PairedReadings.unreachable(str(exc))
    (decisions, _), (bands, _), (diff_sum, _), (diff_count, _), (cand, _), (base, _) = answers
    return PairedReadings(
        decisions=decisions,
        bands=bands,
        diff_sum=diff_sum,
        diff_count=diff_count,
        candidate_buckets=cand,
        baseline_buckets=base,
        error=_errors(answers),
    )
