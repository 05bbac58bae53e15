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

from controller.queries import QuerySet
from controller.rollout.readings import MetricReadings


class PrometheusUnavailable(Exception):
    """Prometheus did not answer (connection error, timeout, 5xx, not ready)."""


class QueryError(Exception):
    """Prometheus answered but refused or could not reduce the query (bad PromQL)."""


class MetricsSource(Protocol):
    def online(self) -> bool: ...

    def query(self, promql: str, name: str = "") -> float | None:
        """One instant value of ``promql`` (``name`` is the gate, for logs and fakes)."""
        ...


def _number(text: Any) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


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

    def query(self, promql: str, name: str = "") -> float | None:
        try:
            response = self.client.get(f"{self.address}/api/v1/query", params={"query": promql})
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise PrometheusUnavailable(f"HTTP {response.status_code} from Prometheus")
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise QueryError(f"{name or 'query'}: {body.get('error', response.status_code)}")
        return parse_result(body["data"])

    def close(self) -> None:
        self.client.close()


class FakeMetricsSource:
    """In-memory source for tests: answers by gate name (``requests`` for the count)."""

    def __init__(
        self,
        values: Mapping[str, float | None] | Callable[[str], float | None] | None = None,
        online: bool = True,
    ) -> None:
        self.values = values if values is not None else {}
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
