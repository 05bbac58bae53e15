"""Alerts and dashboard: promtool accepts the rules and they fire as intended; every metric
that an alert or a dashboard panel queries is one the services really export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.integration.deploy import metric_names as mn
from tests.integration.deploy.chart import (
    ALL_FEATURES,
    CHART,
    REPO,
    by_kind,
    render,
    run,
    template_text,
)

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
DEFAULT_RULES = ("--set", "metrics.prometheusRule.enabled=true")


def rule_groups(*values: Path, extra: tuple[str, ...] = DEFAULT_RULES) -> list[dict]:
    text = template_text(
        *values, extra=(*extra, "--show-only", "templates/monitoring/prometheusrule.yaml")
    )
    return yaml.safe_load(text)["spec"]["groups"]


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool missing: apt-get install prometheus (scripts/install-system-deps.sh)"
    return path


@pytest.mark.parametrize("values", [(), (ALL_FEATURES,)], ids=["default", "all-features"])
def test_promtool_checks_the_rules(values: tuple[Path, ...], tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": rule_groups(*values)}))
    out = run(promtool(), "check", "rules", str(rules)).stdout
    assert "SUCCESS" in out


def test_alerts_fire_on_synthetic_series(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": rule_groups()}))
    tests = tmp_path / "alerts_test.yml"
    tests.write_text((HERE / "alerts_test.yml").read_text().replace("[RULES]", f"[{rules}]"))
    proc = run(promtool(), "test", "rules", str(tests), check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_alert_names_cover_the_issue() -> None:
    names = {r["alert"] for g in rule_groups() for r in g["rules"]}
    assert {
        "InferenceHighErrorRatio",
        "InferenceDriftDetected",
        "ModelRolloutFailed",
        "BatchQueueBackingUp",
    } <= names


def test_compose_prometheus_uses_the_same_alerts() -> None:
    compose_rules = yaml.safe_load((REPO / "deploy" / "prometheus" / "alerts.yml").read_text())
    assert compose_rules == {"groups": rule_groups()}, (
        "deploy/prometheus/alerts.yml is stale: regenerate it from the chart (see its header)"
    )


def test_dashboard_is_valid_grafana_json() -> None:
    (cm,) = by_kind(render(ALL_FEATURES), "ConfigMap")[:1]
    dashboard = json.loads(cm["data"]["creditrisk-platform.json"])
    assert dashboard["uid"]
    assert dashboard["panels"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard == json.loads((CHART / "files" / "dashboard.json").read_text())


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Metric names per service, from live scrapes."""
    from tests.support.processes import RedisServer

    tmp = tmp_path_factory.mktemp("scrape")
    names = {
        "inference": mn.exposition_names(mn.scrape_inference(tmp)),
        "batch-worker": mn.exposition_names(mn.scrape_batch_worker()),
    }
    redis = RedisServer(tmp / "redis").start()
    try:
        names["batch-api"] = mn.exposition_names(mn.scrape_batch_api(redis.url, tmp))
    finally:
        redis.stop()
    names["controller"] = mn.exposition_names(mn.scrape_controller())
    return names


def test_live_scrapes_hold_the_spec_metrics(exported: dict[str, set[str]]) -> None:
    assert {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "inference_predictions_total",
        "inference_score_bucket",
        "inference_feature_psi",
        "inference_score_psi",
        "inference_drift_detected",
        "inference_model_info",
    } <= exported["inference"]
    assert {"batch_queue_depth", "batch_workers", "batch_rows_scored_total"} <= exported[
        "batch-api"
    ]
    assert {
        "modelrollout_controller_rollouts",
        "modelrollout_controller_analyses_total",
    } <= exported["controller"]


def test_every_queried_metric_is_exported(exported: dict[str, set[str]]) -> None:
    known = set().union(*exported.values())
    dashboard = json.loads((CHART / "files" / "dashboard.json").read_text())
    groups = rule_groups(ALL_FEATURES)
    queried = {
        expr: mn.metrics_in(expr)
        for expr in mn.rule_expressions(groups) + mn.dashboard_expressions(dashboard)
    }
    assert all(queried.values()), [e for e, names in queried.items() if not names]
    unknown = {expr: sorted(names - known) for expr, names in queried.items() if names - known}
    assert not unknown, f"metrics no service exports: {unknown}"


def test_metric_name_parser() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (track, le) (rate(http_request_duration_seconds_bucket"
        '{namespace=~"$namespace", route=~"/api/v1/predict.*"}[$__rate_interval]))) > 0.5 '
        "and on (namespace) max(batch_workers) == 0"
    )
    assert mn.metrics_in(expr) == {"http_request_duration_seconds_bucket", "batch_workers"}
