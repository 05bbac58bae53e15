"""compose.yaml (no Docker engine here to run it): structure, hardening, pinned images,
and the Prometheus config + alerts it mounts, checked by promtool."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.integration.deploy.chart import REPO

pytestmark = pytest.mark.integration

COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())
APP_SERVICES = ("mlflow", "trainer", "inference", "batch-api", "batch-worker")


def test_compose_has_the_whole_stack() -> None:
    assert set(COMPOSE["services"]) == {
        "redis",
        "mlflow",
        "trainer",
        "inference",
        "batch-api",
        "batch-worker",
        "prometheus",
        "grafana",
    }


def test_app_containers_are_hardened() -> None:
    for name in APP_SERVICES:
        svc = COMPOSE["services"][name]
        assert svc["read_only"] is True, name
        assert svc["user"].split(":")[0] == "10001", name
        assert svc["cap_drop"] == ["ALL"], name
        assert any(t.startswith("/tmp") for t in svc["tmpfs"]), name


def test_images_are_pinned_and_builds_point_at_dockerfiles() -> None:
    for name, svc in COMPOSE["services"].items():
        image = svc["image"]
        assert not image.endswith(":latest"), name
        assert ":" in image.rsplit("/", 1)[-1], name
        if "build" in svc:
            assert (REPO / svc["build"]["dockerfile"]).is_file(), name
    mounted = [v.split(":")[0] for s in COMPOSE["services"].values() for v in s.get("volumes", [])]
    for path in mounted:
        if path.startswith("./"):
            assert (REPO / path).exists(), path


def test_no_secret_in_compose() -> None:
    text = (REPO / "compose.yaml").read_text()
    assert "API_KEY_HASHES: ${API_KEY_HASHES:-[]}" in text
    assert "password" not in text.lower()


def test_prometheus_config_and_rules() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing (make install)"
    proc = subprocess.run(
        [promtool, "check", "config", str(REPO / "deploy" / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout
    targets = {
        t
        for job in yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())[
            "scrape_configs"
        ]
        for sc in job["static_configs"]
        for t in sc["targets"]
    }
    for target in targets:
        assert target.split(":")[0] in COMPOSE["services"], target
