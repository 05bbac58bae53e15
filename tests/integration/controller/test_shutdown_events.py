"""SIGTERM to a real operator process with Events still queued: within
``CONTROLLER_EVENTS_DRAIN_SECONDS`` each is posted to the (real) kube-apiserver or counted
and logged as dropped, and the process exits."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.kube import EVENTS, Kube
from tests.integration.controller.cluster import NS
from tests.support.controlplane import ControlPlane, build_if_missing

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
SA = "modelrollout-controller"
QUEUED = 250  # one rollout's Events share one queue (256) and one posting thread
DROPPED = re.compile(r"events at shutdown: (\d+) queued, (\d+) dropped")


@pytest.fixture(scope="module")
def cp() -> Iterator[ControlPlane]:
    build_if_missing()
    plane = ControlPlane()
    try:
        plane.start()
        plane.apply(ROOT / "k8s" / "crd" / "modelrollouts.yaml")
        plane.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
        plane.apply(ROOT / "k8s" / "rbac")
        yield plane
    finally:
        plane.stop()


def posted(admin: Kube, name: str) -> int:
    query = {"fieldSelector": f"involvedObject.name={name}"}
    return len(admin.request("GET", EVENTS.path(NS), query=query).get("items", []))


def run_and_terminate(
    cp: ControlPlane, tmp_path: Path, name: str, drain: float
) -> tuple[float, str]:
    """Start the operator, SIGTERM it as soon as it has queued ``QUEUED`` Events; the
    seconds from SIGTERM to exit and its output."""
    ready, log = tmp_path / f"{name}.ready", tmp_path / f"{name}.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CONTROLLER_KUBECONFIG": str(cp.serviceaccount_kubeconfig(NS, SA, create=False)),
        "CONTROLLER_NAMESPACES": NS,
        "CONTROLLER_METRICS_PORT": "0",
        "CONTROLLER_LIVENESS_PORT": "0",
        "CONTROLLER_EVENTS_DRAIN_SECONDS": f"{drain:g}",
        "CONTROLLER_LOG_LEVEL": "INFO",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    argv = [sys.executable, "-m", "tests.integration.controller.queued_operator"]
    argv += ["--events", str(QUEUED), "--name", name, "--ready", str(ready)]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "operator not ready in 60 s"
            time.sleep(0.05)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(drain + 30)
        return time.monotonic() - sent, log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_queued_events_are_posted_at_shutdown(cp: ControlPlane, tmp_path: Path) -> None:
    admin = Kube(cp.client(), "tests")
    took, output = run_and_terminate(cp, tmp_path, "mro-drained", drain=60)
    assert posted(admin, "mro-drained") == QUEUED, output[-3000:]
    assert not DROPPED.search(output)
    assert took < 60


def test_a_short_bound_drops_what_is_left_and_says_so(cp: ControlPlane, tmp_path: Path) -> None:
    admin = Kube(cp.client(), "tests")
    took, output = run_and_terminate(cp, tmp_path, "mro-cut", drain=0.05)
    found = DROPPED.search(output)
    dropped = int(found.group(2)) if found else 0
    made = posted(admin, "mro-cut")
    # one Event may have been in flight when the process ended
    assert QUEUED - 1 <= made + dropped <= QUEUED, output[-3000:]
    assert dropped > 0, output[-3000:]
    assert took < 0.05 + 15  # kopf's own shutdown included
