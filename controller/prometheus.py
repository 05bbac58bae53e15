"""The metrics adapter: a tiny ``MetricsSource`` protocol, its Prometheus HTTP
implementation and an in-memory fake, plus ``gather`` which turns a QuerySet into the
``MetricReadings`` the decision function judges.

"No data" (an empty result, NaN) is ``None``; an unreachable Prometheus raises
``PrometheusUnavailable`` and becomes an inconclusive analysis, never a pass or a fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx

from controller.queries import PairedQueries, QuerySet
from controller.rollout.readings import MetricReadings, PairedReadings

Sample = tuple[dict[str, str], float]


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
    """Prometheus HTTP API (``/api/v1/query``, ``/-/ready``) through httpx."""

    def __init__(self, address: str, timeout: float = 5.0, client: httpx.Client | None = None):
        self.address = address.rstrip("/")
        self.client = client or httpx.Client(timeout=timeout)

    def online(self) -> bool:
        try:
            return self.client.get(f"{self.address}/-/ready").status_code == 200
        except httpx.HTTPError:
            return False

    def _data(self, promql: str, name: str) -> dict[str, Any]:
        try:
            response = self.client.get(f"{self.address}/api/v1/query", params={"query": promql})
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
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


def _ask(source: MetricsSource, promql: str, name: str, errors: list[str]) -> float | None:
    try:
        return source.query(promql, name)
    except QueryError as exc:
        errors.append(f"{name}: {exc}")
        return None


def gather(source: MetricsSource, queries: QuerySet) -> MetricReadings:
    """Query the canary request count and every gate; a bad query is "no data" for its gate."""
    errors: list[str] = []
    try:
        if not source.online():
            return MetricReadings.unreachable("Prometheus is not ready")
        requests = _ask(source, queries.requests, "requests", errors)
        gates = {name: _ask(source, q, name, errors) for name, q in queries.gates.items()}
    except PrometheusUnavailable as exc:
        return MetricReadings.unreachable(str(exc))
    return MetricReadings(online=True, requests=requests, gates=gates, error="; ".join(errors))


def _vector(source: MetricsSource, promql: str, name: str, errors: list[str]) -> tuple[Sample, ...]:
    try:
        return tuple(source.query_vector(promql, name))
    except QueryError as exc:
        errors.append(f"{name}: {exc}")
        return ()


def gather_paired(source: MetricsSource, queries: PairedQueries) -> PairedReadings:
    """The shadow phase's paired figures; a bad query is "no data" for its part."""
    errors: list[str] = []
    try:
        if not source.online():
            return PairedReadings.unreachable("Prometheus is not ready")
        return PairedReadings(
            decisions=_vector(source, queries.decisions, "pairedDecisions", errors),
            bands=_vector(source, queries.bands, "pairedBands", errors),
            diff_sum=_ask(source, queries.diff_sum, "pairedDiffSum", errors),
            diff_count=_ask(source, queries.diff_count, "pairedDiffCount", errors),
            candidate_buckets=_vector(source, queries.candidate_buckets, "candidateScore", errors),
            baseline_buckets=_vector(source, queries.baseline_buckets, "baselineScore", errors),
            error="; ".join(errors),
        )
    except PrometheusUnavailable as exc:
        return PairedReadings.unreachable(str(exc))
