"""The harness pieces that need no cluster: load generator and Prometheus."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from services.core.synthetic import Drift
from tests.e2e.harness.applicants import ApplicantPool, applicants
from tests.e2e.harness.kwok import COMPONENT_LABEL, stages_yaml
from tests.e2e.harness.loadgen import LoadGenerator, WeightedPicker
from tests.e2e.harness.podenv import container_env
from tests.e2e.harness.podprocess import ready_patch
from tests.e2e.harness.prometheus import PrometheusServer
from tests.e2e.harness.routing import Backend, StaticRoutes, route_mirrors, route_weights
from tests.e2e.harness.waits import wait_for
from tests.e2e.stubs import stub_server


@pytest.mark.unit
def test_weighted_picker_gives_exact_proportions() -> None:
    picker = WeightedPicker()
    backends = [Backend("s", "stable", 75, ("a",)), Backend("c", "canary", 25, ("b",))]
    picks = [picker.pick(backends) for _ in range(400)]
    assert sum(1 for p in picks if p is not None and p.track == "canary") == 100
    assert picker.pick([Backend("s", "stable", 0, ("a",))]) is None


@pytest.mark.unit
def test_route_weights_default_to_one_and_skip_other_kinds() -> None:
    route = {
        "spec": {
            "rules": [
                {
                    "backendRefs": [
                        {"name": "inference", "weight": 90},
                        {"name": "inference-canary", "weight": 10},
                        {"name": "bucket", "kind": "Bucket"},
                        {"name": "other"},
                    ]
                }
            ]
        }
    }
    assert route_weights(route) == {"inference": 90, "inference-canary": 10, "other": 1}


@pytest.mark.unit
def test_route_mirrors_read_request_mirror_filters() -> None:
    def mirror(name: str, **extra: object) -> dict[str, object]:
        return {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": name, **extra}}}

    with_percent = mirror("inference-canary")
    with_percent["requestMirror"]["percent"] = 30  # type: ignore[index]
    route = {
        "spec": {
            "rules": [
                {"backendRefs": [{"name": "inference"}], "filters": [with_percent]},
                {"filters": [mirror("audit"), mirror("inference-canary"), {"type": "X"}]},
                {"filters": [mirror("bucket", kind="Bucket")]},
            ]
        }
    }
    assert route_mirrors(route) == {"inference-canary": 30, "audit": 100}
    assert route_weights(route) == {"inference": 1}
    assert route_mirrors({}) == {}


@pytest.mark.unit
def test_picker_mirrors_an_even_share() -> None:
    picker = WeightedPicker()
    shadow = Backend("c", "canary", 0, ("b",), mirror=30)
    assert sum(picker.mirror(shadow) for _ in range(1000)) == 300
    assert not any(picker.mirror(Backend("s", "stable", 100, ("a",))) for _ in range(10))
    assert all(picker.mirror(Backend("m", "canary", 0, ("b",), mirror=100)) for _ in range(10))


@pytest.mark.unit
def test_applicants_are_json_ready_and_drift_moves_income() -> None:
    plain = applicants(300, seed=1)
    drifted = applicants(300, seed=1, drift=[Drift("income", shift=-0.3)])
    assert set(plain[0]) == {"student", "balance", "income"}
    assert isinstance(plain[0]["student"], str)
    mean = sum(r["income"] for r in plain) / 300
    assert sum(r["income"] for r in drifted) / 300 == pytest.approx(0.7 * mean, rel=1e-3)


@pytest.mark.integration
def test_load_generator_splits_by_weight_and_counts_failures() -> None:
    pool = ApplicantPool([{"x": 1}])
    with stub_server(200) as good, stub_server(500) as bad:
        routes = StaticRoutes(
            [
                Backend("s", "stable", 80, (good.address,)),
                Backend("c", "canary", 20, (bad.address,)),
            ]
        )
        load = LoadGenerator(routes, {"*": pool}, rate=100, workers=4).start(duration=30)
        wait_for(lambda: load.stats.sent() >= 150, 10, "150 requests")
        # a backend with weight but no ready endpoint is a failure (a gateway's 503)
        routes.table = [Backend("s", "stable", 50, (good.address,)), Backend("c", "canary", 50, ())]
        sent = load.stats.sent()
        wait_for(lambda: load.stats.sent() >= sent + 60, 10, "60 requests on the new table")
        stats = load.stop()
    counts = stats.counts()
    assert counts["stable"].failed == 0
    assert counts["stable"].ok == good.posts
    assert counts["canary"].ok == 0
    assert counts["canary"].sent >= 40
    reasons = stats.reasons()
    assert reasons["canary:http_500"] == bad.posts
    assert reasons["canary:no_endpoints"] > 0
    assert stats.skipped == 0


@pytest.mark.integration
def test_load_generator_mirrors_copies_and_never_counts_them_as_answers() -> None:
    """A mirror backend (weight 0) gets a copy of every request; applicants' answers all
    come from the stable backend, and the copies are counted apart."""
    pool = ApplicantPool([{"x": 1}])
    with stub_server(200) as stable, stub_server(500, "canary") as shadow:
        routes = StaticRoutes(
            [
                Backend("s", "stable", 100, (stable.address,)),
                Backend("c", "canary", 0, (shadow.address,), mirror=100),
            ]
        )
        load = LoadGenerator(routes, {"*": pool}, rate=100, workers=4).start(duration=30)
        wait_for(lambda: load.stats.mirrors()["canary"] >= 100, 10, "100 mirrored copies")
        routes.table = [Backend("s", "stable", 100, (stable.address,))]  # mirror removed
        submitted, sent = load.copies_submitted, load.stats.sent()
        wait_for(lambda: load.stats.sent() >= sent + 50, 10, "50 requests without mirror")
        stats = load.stop()
    counts = stats.counts()
    assert set(counts) == {"stable"}, "a mirrored copy is never an applicant's answer"
    assert counts["stable"].ok == stable.posts
    assert stats.failures == []
    assert stats.mirrored["canary"] == stats.mirror_failed["canary"] == shadow.posts
    # no copy once the mirror is gone, but for requests the 4 workers had already routed
    assert load.copies_submitted <= submitted + 4


@pytest.mark.integration
def test_prometheus_scrapes_file_sd_targets_and_survives_restart(tmp_path: Path) -> None:
    prom = PrometheusServer(tmp_path / "prom").start()
    try:
        with stub_server(200, track="canary") as stub:
            prom.targets.set(
                "pod-a", stub.address, {"namespace": "ns1", "pod": "pod-a", "track": "canary"}
            )
            query = 'up{namespace="ns1",pod="pod-a"}'
            wait_for(lambda: prom.value(query) == 1.0, 20, "target up")
            series = prom.query("stub_posts_total")
            assert series
            assert series[0]["metric"]["track"] == "canary"
            assert series[0]["metric"]["pod"] == "pod-a"

            prom.stop()
            with pytest.raises(Exception):  # noqa: B017,PT011 - any connection error
                prom.value("up")
            prom.start()
            wait_for(lambda: prom.value(query) == 1.0, 20, "target up after restart")

            prom.targets.remove("pod-a")
            wait_for(lambda: not prom.active_targets(), 20, "target dropped")
    finally:
        prom.stop()


@pytest.mark.unit
def test_pod_env_resolves_values_field_refs_and_empty_values() -> None:
    pod = {
        "metadata": {"name": "p-1", "namespace": "ns", "labels": {"track": "canary"}},
        "status": {"podIP": "10.244.0.7"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "env": [
                        {"name": "MODEL_URI", "value": "models:/m/2"},
                        {"name": "INFERENCE_RATE_LIMIT"},  # the API drops an empty value
                        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {
                            "name": "TRACK",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['track']"}},
                        },
                        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {
                            "name": "SECRET",
                            "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
                        },
                    ],
                }
            ]
        },
    }
    env, unresolved = container_env(pod)
    assert env == {
        "MODEL_URI": "models:/m/2",
        "INFERENCE_RATE_LIMIT": "",
        "POD": "p-1",
        "TRACK": "canary",
        "IP": "10.244.0.7",
    }
    assert unresolved == ["SECRET"]


@pytest.mark.unit
def test_kwok_stages_take_inference_pods_only_and_outweigh_the_stock_ones() -> None:
    stages = list(yaml.safe_load_all(stages_yaml()))
    assert {s["metadata"]["name"] for s in stages} == {
        "inference-pod-start",
        "inference-pod-delete",
    }
    for stage in stages:
        assert stage["spec"]["weight"] > 0
        keys = [e["key"] for e in stage["spec"]["selector"]["matchExpressions"]]
        assert f'.metadata.labels["{COMPONENT_LABEL}"]' in keys
    start = next(s for s in stages if s["metadata"]["name"] == "inference-pod-start")
    template = start["spec"]["next"]["statusTemplate"]
    assert "phase: Running" in template
    assert "ready: false" in template


@pytest.mark.unit
def test_ready_patch_sets_both_conditions_and_keeps_container_statuses_whole() -> None:
    pod = {
        "status": {
            "containerStatuses": [
                {
                    "name": "inference",
                    "image": "x",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
                }
            ]
        }
    }
    body = ready_patch(pod, True, restarts=2, now=datetime(2026, 1, 1, tzinfo=UTC))
    conditions = {c["type"]: c for c in body["status"]["conditions"]}
    assert set(conditions) == {"Ready", "ContainersReady"}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Ready"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    (container,) = body["status"]["containerStatuses"]
    assert container["ready"] is True
    assert container["restartCount"] == 2
    assert container["state"] == {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
    assert ready_patch({}, False, 0)["status"].keys() == {"conditions"}
