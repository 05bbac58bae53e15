"""Attack: use the controller's ServiceAccount (e.g. from a stolen token, or as whoever may
create a ModelRollout, the confused deputy) to act outside the namespaces it serves.

The chart's RBAC objects, rendered with one extra watched namespace, and the plain
manifests of ``k8s/rbac/`` (including the ``--all-namespaces`` mode) are applied to a real
kube-apiserver and probed with ``kubectl auth can-i --as=system:serviceaccount:...``."""

from __future__ import annotations

import json
import time

import pytest
import yaml

from tests.integration.deploy.chart import CHART, REPO, helm, template_text
from tests.support.controlplane import ControlPlane
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration

NS, EXTRA, OTHER = "credit-risk", "team-a", "team-b"
SA = f"system:serviceaccount:{NS}:cr-creditrisk-controller"
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")
PLAIN = REPO / "k8s" / "rbac"  # the plain manifests, for `python -m controller`
MRO = "modelrollouts.mlops.creditrisk.io"


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


def can(cp: ControlPlane, verb: str, resource: str, namespace: str, who: str = SA) -> bool:
    proc = cp.kubectl("auth", "can-i", verb, resource, f"--as={who}", "-n", namespace, check=False)
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


def test_all_namespaces_mode_reads_everywhere_but_acts_only_where_bound(
    rbac: ControlPlane,
) -> None:
    """The plain manifests' mode for `python -m controller --all-namespaces`
    (k8s/rbac/clusterwide/): ModelRollouts readable in every namespace, every write only
    where k8s/rbac/rolebinding.yaml binds the role (here: credit-risk)."""
    # can-i answers "no" for a resource type the server does not know: install both CRDs
    rbac.apply(rbac.crd_dir("gateway-api"), REPO / "k8s" / "crd" / "modelrollouts.yaml")
    rbac.kubectl("apply", "-f", str(PLAIN / "clusterrole.yaml"))
    rbac.kubectl("apply", "-n", NS, "-f", str(PLAIN / "serviceaccount.yaml"))
    rbac.kubectl("apply", "-f", str(PLAIN / "clusterwide"))
    rbac.kubectl("apply", "-f", str(PLAIN / "rolebinding.yaml"))
    plain = f"system:serviceaccount:{NS}:modelrollout-controller"

    def may(verb: str, resource: str, namespace: str) -> bool:
        return can(rbac, verb, resource, namespace, who=plain)

    wait_for(
        "the plain manifests' bindings in the authorizer",
        lambda: may("create", "deployments.apps", NS) and may("watch", MRO, OTHER),
        timeout=30,
    )
    for ns in (OTHER, "kube-system", "default"):
        assert may("list", MRO, ns), ns
        for verb, resource in (
            ("patch", MRO),  # not even its own finalizer: it does nothing here
            ("create", "deployments.apps"),
            ("patch", "deployments.apps"),
            ("delete", "services"),
            ("patch", "httproutes.gateway.networking.k8s.io"),
            ("create", "events"),
            ("get", "secrets"),
        ):
            assert not may(verb, resource, ns), (verb, resource, ns)
    assert may("patch", MRO, NS)
    assert may("patch", "httproutes.gateway.networking.k8s.io", NS)


def test_secrets_are_readable_only_by_the_names_the_operator_listed(rbac: ControlPlane) -> None:
    """Webhook keys and notification URLs (docs/webhooks.md): with
    ``controller.secretNames`` the Role gains ``get`` on exactly those Secrets in each
    watched namespace; no other Secret, no list/watch, nothing in another namespace. The
    plain manifests' k8s/rbac/secrets.yaml grants the same for its two names."""
    names = "modelrollout-webhooks,modelrollout-notifications"
    values = (
        "--set",
        f"controller.watchNamespaces={{{EXTRA}}}",
        "--set",
        f"controller.secretNames={{{names}}}",
    )
    docs = [d for d in yaml.safe_load_all(template_text(extra=values)) if d]
    roles = [d for d in docs if d["kind"] == "Role"]
    rbac.kubectl(
        "apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": roles})
    )
    wait_for(
        "the Role with secretNames in the authorizer",
        lambda: can(rbac, "get", "secrets/modelrollout-notifications", EXTRA),
        timeout=30,
    )
    for ns in (NS, EXTRA):
        assert can(rbac, "get", "secrets/modelrollout-webhooks", ns), ns
        assert can(rbac, "get", "secrets/modelrollout-notifications", ns), ns
        for verb, resource in (
            ("get", "secrets"),
            ("get", "secrets/postgres"),
            ("list", "secrets"),
            ("watch", "secrets"),
            ("update", "secrets/modelrollout-webhooks"),
            ("delete", "secrets/modelrollout-webhooks"),
        ):
            assert not can(rbac, verb, resource, ns), (verb, resource, ns)
    for ns in (OTHER, "kube-system"):
        assert not can(rbac, "get", "secrets/modelrollout-webhooks", ns), ns

    rbac.kubectl("apply", "-n", NS, "-f", str(PLAIN / "serviceaccount.yaml"))
    rbac.kubectl("apply", "-f", str(PLAIN / "secrets.yaml"))
    plain = f"system:serviceaccount:{NS}:modelrollout-controller"

    def may(verb: str, resource: str, namespace: str) -> bool:
        return can(rbac, verb, resource, namespace, who=plain)

    wait_for(
        "k8s/rbac/secrets.yaml in the authorizer",
        lambda: may("get", "secrets/modelrollout-webhooks", NS),
        timeout=30,
    )
    assert may("get", "secrets/modelrollout-notifications", NS)
    assert not may("get", "secrets/postgres", NS)
    assert not may("list", "secrets", NS)
    assert not may("get", "secrets/modelrollout-webhooks", OTHER)
