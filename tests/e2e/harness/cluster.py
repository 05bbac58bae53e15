"""The e2e cluster: the real control plane of ``tests.support.controlplane`` with kwok
(the inference Stages installed), the Gateway API and ModelRollout CRDs, and the
operator's ServiceAccount bound to the roles of ``k8s/rbac/``: reading ModelRollouts
cluster-wide, acting only in the namespaces each scenario binds it to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.harness import kwok
from tests.support.controlplane import ControlPlane, binaries_missing

REPO_ROOT = Path(__file__).resolve().parents[3]
RBAC = REPO_ROOT / "k8s" / "rbac"
CRD = REPO_ROOT / "k8s" / "crd"
OPERATOR_NAMESPACE = "credit-risk"
OPERATOR_ACCOUNT = "modelrollout-controller"


@dataclass
class Cluster:
    cp: ControlPlane
    api: Any  # kubernetes.client.ApiClient, admin
    operator_kubeconfig: Path

    def stop(self) -> None:
        self.cp.stop()


def rbac_documents() -> list[Path]:
    """ClusterRole, ServiceAccount and the cluster-wide *read* binding: the operator watches
    every namespace (each scenario gets its own) but acts only where a scenario binds it
    (``operator_binding``), as ``k8s/rbac/clusterwide/`` tells users to."""
    return [
        RBAC / "clusterrole.yaml",
        RBAC / "serviceaccount.yaml",
        *sorted((RBAC / "clusterwide").glob("*.yaml")),
    ]


def operator_binding(namespace: str) -> dict[str, Any]:
    """``k8s/rbac/rolebinding.yaml`` for ``namespace``: the operator may act there."""
    binding: dict[str, Any] = yaml.safe_load((RBAC / "rolebinding.yaml").read_text())
    binding["metadata"]["namespace"] = namespace
    return binding


def start_cluster(workdir: Path, nodes: int = 1) -> Cluster:
    missing = binaries_missing()
    if missing:
        raise RuntimeError(f"control-plane binaries missing {missing}: run `make controlplane`")
    cp = ControlPlane(workdir=workdir / "controlplane")  # WatchList off: see its defaults
    try:
        cp.start()
        cp.start_controllers()
        with kwok.environment(workdir / "kwok"):
            cp.start_kwok(nodes=nodes)
        cp.apply(cp.crd_dir("gateway-api"))
        cp.apply(CRD)
        cp.apply(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}}
        )
        cp.apply(*rbac_documents(), namespace=OPERATOR_NAMESPACE)
        kubeconfig = cp.serviceaccount_kubeconfig(
            OPERATOR_NAMESPACE, OPERATOR_ACCOUNT, create=False, expiration_seconds=6 * 3600
        )
        return Cluster(cp, cp.client(), kubeconfig)
    except BaseException:
        cp.stop()
        raise
