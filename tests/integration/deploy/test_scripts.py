"""Shell scripts are shellcheck-clean; the kind targets stop at once without Docker; the
kind cluster config and the GitHub workflows are well-formed."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.integration.deploy.chart import REPO

pytestmark = pytest.mark.integration

SCRIPTS = sorted(p for p in (REPO / "scripts").rglob("*.sh"))
KIND_TARGETS = ["kind-up", "images", "kind-load", "deploy", "e2e-kind", "kind-down", "test-kind"]


def test_there_are_scripts() -> None:
    assert {p.name for p in SCRIPTS} >= {
        "kind-up.sh",
        "images.sh",
        "kind-load.sh",
        "deploy.sh",
        "e2e.sh",
    }


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_shellcheck(script: Path) -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck missing: apt-get install shellcheck (make install)"
    proc = subprocess.run(
        [shellcheck, "-x", "--severity=style", str(script)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", [p for p in SCRIPTS if "kind" in p.parts], ids=lambda p: p.name)
def test_kind_scripts_are_strict(script: Path) -> None:
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text


def _no_engine_env(tmp_path: Path) -> dict[str, str]:
    """A `docker` client whose engine is unreachable (as on this machine), whatever the host has."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    docker = fake / "docker"
    docker.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    docker.chmod(0o755)
    return {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}"}


@pytest.mark.parametrize("target", KIND_TARGETS)
def test_kind_targets_fail_fast_without_docker(target: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        ["make", "--no-print-directory", "-f", "mk/kind.mk", target],
        cwd=REPO,
        env=_no_engine_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=30,  # fails fast: a target that waited for an engine would time out here
        check=False,
    )
    assert proc.returncode != 0
    assert "no Docker engine reachable" in proc.stderr, proc.stderr


def test_kind_targets_without_docker_client(tmp_path: Path) -> None:
    # a PATH with every system tool but docker
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for folder in ("/usr/local/bin", "/usr/bin", "/bin"):
        for tool in Path(folder).iterdir():
            link = bin_dir / tool.name
            if tool.name != "docker" and not link.exists():
                link.symlink_to(tool)
    env = {**os.environ, "PATH": str(bin_dir)}
    proc = subprocess.run(
        ["make", "--no-print-directory", "-f", "mk/kind.mk", "kind-up"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "docker is not installed" in proc.stderr


def test_kind_cluster_config() -> None:
    config = yaml.safe_load((REPO / "k8s" / "kind" / "cluster.yaml").read_text())
    assert config["kind"] == "Cluster"
    assert config["apiVersion"] == "kind.x-k8s.io/v1alpha4"
    (control,) = [n for n in config["nodes"] if n["role"] == "control-plane"]
    assert "ingress-ready=true" in control["kubeadmConfigPatches"][0]
    assert {(m["containerPort"], m["hostPort"]) for m in control["extraPortMappings"]} == {
        (80, 80),
        (443, 443),
    }


def test_namespace_enforces_restricted_pod_security() -> None:
    ns = yaml.safe_load((REPO / "k8s" / "namespace.yaml").read_text())
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize(
    "workflow", sorted((REPO / ".github" / "workflows").glob("*.yml")), ids=lambda p: p.name
)
def test_workflows_pin_actions(workflow: Path) -> None:
    data = yaml.safe_load(workflow.read_text())
    assert data["jobs"]
    for job in data["jobs"].values():
        assert job.get("timeout-minutes"), workflow.name
        for step in job["steps"]:
            uses = step.get("uses")
            if uses:
                ref = uses.split("@", 1)[1] if "@" in uses else ""
                assert ref, f"{workflow.name}: unpinned {uses}"
                assert ref not in ("main", "master", "latest"), f"{workflow.name}: unpinned {uses}"


def test_e2e_modelrollout_is_a_valid_spec() -> None:
    """The ModelRollout the kind e2e applies parses with the controller's own spec model."""
    from controller.spec import RolloutSpec

    text = (REPO / "scripts" / "kind" / "e2e.sh").read_text()
    body = text.split("<<YAML\n", 1)[1].split("\nYAML\n", 1)[0]
    for var, value in {
        "$mro": "cr-e2e",
        "$NAMESPACE": "credit-risk",
        "$inference": "cr-inference",
        "$PROMETHEUS_URL": "http://kps-prometheus.monitoring:9090",
        "$1": "models:/m/2",
    }.items():
        body = body.replace(var, value)
    doc = yaml.safe_load(body)
    spec = RolloutSpec.model_validate(doc["spec"])
    assert spec.canary.weights() == [20, 50]
    assert spec.http_route == "cr-inference"
    assert spec.analysis.min_requests == 20
