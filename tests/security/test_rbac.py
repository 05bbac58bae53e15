"""Attack: use the controller's ServiceAccount (e.g. from a stolen token, or as whoever may
create a ModelRollout, the confused deputy) to act outside the namespaces it serves.

The chart's RBAC objects, rendered with one extra watched namespace, are applied to a real
kube-apiserver and probed with ``kubectl auth can-i --as=system:serviceaccount:...``."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.integration.deploy.chart import CHART, helm, template_text
from tests.support.controlplane import ControlPlane

pytestmark = pytest.mark.integration

NS, EXTRA, OTHER = "credit-risk", "team-a", "team-b"
SA = f"system:serviceaccount:{NS}:cr-creditrisk-controller"
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")


@pytest.fixture(scope="module")
def rbac(apiserver: ControlPlane) -> ControlPlane:
    for ns in (NS, EXTRA, OTHER):
        apiserver.kubectl("create", "namespace", ns)
    text = template_text(extra=("--set", f"controller.watchNamespaces={{{EXTRA}}}"))
    docs = [d for d in yaml.safe_load_all(text) if d and d["kind"] in RBAC_KINDS]
    assert {d["kind"] for d in docs} >= {"ServiceAccount", "Role", "RoleBinding"}
    apiserver.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs})
    )
    return apiserver


def can(cp: ControlPlane, verb: str, resource: str, namespace: str) -> bool:
    proc = cp.kubectl("auth", "can-i", verb, resource, f"--as={SA}", "-n", namespace, check=False)
    return proc.stdout.strip() == "yes"


def test_no_cluster_wide_mode() -> None:
    """The old `controller.clusterWide=true` (a ClusterRole with create/patch/delete on
    Deployments everywhere) is refused at render time."""
    proc = helm("template", "cr", str(CHART), "--set", "controller.clusterWide=true", check=False)
    assert proc.returncode != 0, "controller.clusterWide still renders"
    for values in ((), ("--set", f"controller.watchNamespaces={{{EXTRA},{OTHER}}}")):
        kinds = {d["kind"] for d in yaml.safe_load_all(template_text(extra=values)) if d}
        assert not kinds & {"ClusterRole", "ClusterRoleBinding"}, values


def test_controller_cannot_create_workloads_outside_its_namespaces(rbac: ControlPlane) -> None:
    deadline = time.monotonic() + 30  # the authorizer's informer catches up with the apply
    while not can(rbac, "create", "deployments.apps", EXTRA) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert can(rbac, "create", "deployments.apps", NS)
    assert can(rbac, "create", "deployments.apps", EXTRA)
    for ns in (OTHER, "kube-system", "default"):
        for verb, resource in (
            ("create", "deployments.apps"),
            ("patch", "deployments.apps"),
            ("delete", "services"),
            ("create", "pods"),
            ("patch", "httproutes.gateway.networking.k8s.io"),
        ):
            assert not can(rbac, verb, resource, ns), (verb, resource, ns)


def test_controller_cannot_read_secrets_or_escalate(rbac: ControlPlane) -> None:
    for ns in (NS, EXTRA, "kube-system"):
        for verb, resource in (
            ("get", "secrets"),
            ("list", "secrets"),
            ("create", "pods"),
            ("create", "pods/exec"),
            ("create", "serviceaccounts/token"),
            ("create", "rolebindings.rbac.authorization.k8s.io"),
            ("escalate", "roles.rbac.authorization.k8s.io"),
            ("update", "configmaps"),
        ):
            assert not can(rbac, verb, resource, ns), (verb, resource, ns)
    proc = rbac.kubectl("auth", "can-i", "create", "clusterrolebindings", f"--as={SA}", check=False)
    assert proc.stdout.strip() == "no"
