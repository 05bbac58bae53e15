"""Metric names: the ones PromQL expressions use, and the ones the services export,
read from live /metrics scrapes of the real apps (in-process, real Redis for batch)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

PROMQL_WORDS = {
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
    "le",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_VARIABLE = re.compile(r"\$\{?\w+\}?")
_TOKEN = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*(\(|$|[^a-zA-Z0-9_:(]))")


def metrics_in(expr: str) -> set[str]:
    """Metric names referenced by one PromQL expression (functions and keywords excluded)."""
    text = _VARIABLE.sub(" 1 ", expr)
    text = _STRING.sub('""', text)
    text = _MATCHERS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _RANGE.sub(" ", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word, rest = match.group(0), text[match.end() :].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        if re.fullmatch(r"[0-9.]+(e[0-9]+)?|[0-9]+[smhdwy]", word):
            continue
        names.add(word)
    return names


def exposition_names(text: str) -> set[str]:
    """Sample names an exposition can carry, from its `# TYPE` lines (a family without
    samples yet still declares them) and its sample lines."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(maxsplit=3)
            if kind == "counter":
                names |= {family, family.removesuffix("_total") + "_total", family + "_created"}
            elif kind == "histogram":
                names |= {family + s for s in ("_bucket", "_sum", "_count", "_created")}
            elif kind == "summary":
                names |= {family, family + "_sum", family + "_count"}
            else:
                names.add(family)
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def rule_expressions(groups: Iterable[dict]) -> list[str]:
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_expressions(dashboard: dict) -> list[str]:
    exprs = []
    for panel in dashboard.get("panels", []):
        for inner in [panel, *panel.get("panels", [])]:
            exprs += [t["expr"] for t in inner.get("targets", []) if t.get("expr")]
    for var in dashboard.get("templating", {}).get("list", []):
        query = var.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if isinstance(query, str) and "(" in query and var.get("type") == "query":
            inner = re.search(r"label_values\(([^,)]+)", query)
            if inner:
                exprs.append(inner.group(1))
    return exprs


def _test_client(app: object) -> object:
    """starlette's TestClient (runs the lifespan); its httpx deprecation notice is not ours."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

        return TestClient(app)  # type: ignore[arg-type]


def scrape_inference(tmp: Path) -> str:

    from services.inference.app import create_app
    from services.inference.settings import InferenceSettings

    settings = InferenceSettings(
        model_uri=str(tmp / "no-model-yet"),
        load_retry_seconds=60,
        mlflow_tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
    )
    with _test_client(create_app(settings)) as client:  # type: ignore[attr-defined]
        client.get("/healthz")
        response = client.get("/metrics")
        assert response.status_code == 200
        return response.text


def scrape_batch_api(redis_url: str, tmp: Path) -> str:

    from services.batch.api.app import create_app
    from services.batch.settings import BatchSettings

    settings = BatchSettings(
        redis_url=redis_url,
        model_uri=str(tmp / "no-model-yet"),
        storage_dir=tmp / "batch",
        mlflow_tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}",
    )
    with _test_client(create_app(settings)) as client:  # type: ignore[attr-defined]
        response = client.get("/metrics")
        assert response.status_code == 200
        return response.text


def scrape_batch_worker() -> str:
    """The worker serves the default registry (start_http_server) with these families."""
    from prometheus_client import REGISTRY, generate_latest

    import services.batch.metrics  # noqa: F401  (registers the worker's families)

    return generate_latest(REGISTRY).decode()


def scrape_controller() -> str:
    """The controller serves the default registry on CONTROLLER_METRICS_PORT."""
    from prometheus_client import REGISTRY, generate_latest

    import controller.metrics  # noqa: F401  (registers the controller's families)

    return generate_latest(REGISTRY).decode()
