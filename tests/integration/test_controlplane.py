"""The test control plane itself: real kube-apiserver (+ etcd), controller-manager,
scheduler and kwok fake nodes, built from the Kubernetes Go modules
(tests/controlplane/build.sh). Other integration tests build on this."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support.controlplane import BUILD_SCRIPT, REPO_ROOT, ControlPlane, build_if_missing
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration

NS = "cp-test"


def git_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_build_script_leaves_the_work_tree_as_it_was() -> None:
    """`make controlplane` (run by `make test` and `make demo`) writes its timings into the
    git-ignored cache, so a fresh clone stays clean."""
    build_if_missing()
    before = git_status()
    subprocess.run(["bash", str(BUILD_SCRIPT)], cwd=REPO_ROOT, check=True, timeout=600)
    assert git_status() == before


@pytest.fixture(scope="module")
def cp():
    build_if_missing()
    plane = ControlPlane()
    try:
        t0 = time.monotonic()
        plane.start()
        print(
            f"\ncontrol plane (etcd + kube-apiserver) ready in {time.monotonic() - t0:.1f}s"
            f" at {plane.server}"
        )
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="module")
def api(cp):
    return cp.client()


@pytest.fixture(scope="module")
def namespace(api):
    client.CoreV1Api(api).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=NS))
    )
    return NS


def test_apiserver_version_and_namespace(cp, api, namespace):
    info = client.VersionApi(api).get_code()
    assert info.git_version.startswith("v1."), info.git_version
    assert int(info.minor.rstrip("+")) >= 31
    ns = client.CoreV1Api(api).read_namespace(namespace)
    assert ns.status.phase == "Active"


def _deployment(name: str, replicas: int) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="app",
                            image="registry.example/inference:test",
                            ports=[client.V1ContainerPort(container_port=8080)],
                            resources=client.V1ResourceRequirements(
                                requests={"cpu": "100m", "memory": "64Mi"}
                            ),
                        )
                    ]
                ),
            ),
        ),
    )


def test_deployment_is_stored(api, namespace):
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, _deployment("stored", 1))
    got = apps.read_namespaced_deployment("stored", namespace)
    assert got.spec.template.spec.containers[0].image == "registry.example/inference:test"
    apps.delete_namespaced_deployment("stored", namespace)


def test_gateway_api_crds_and_httproute(cp, api, namespace):
    applied = cp.apply(cp.crd_dir("gateway-api"))
    names = {o.metadata.name for o in applied if o.kind == "CustomResourceDefinition"}
    assert "httproutes.gateway.networking.k8s.io" in names

    custom = client.CustomObjectsApi(api)
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "inference", "namespace": namespace},
        "spec": {
            "parentRefs": [{"name": "gateway"}],
            "rules": [
                {
                    "backendRefs": [
                        {"name": "inference", "port": 80, "weight": 90},
                        {"name": "inference-canary", "port": 80, "weight": 10},
                    ]
                }
            ],
        },
    }
    custom.create_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", namespace, "httproutes", route
    )
    got = custom.get_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", namespace, "httproutes", "inference"
    )
    assert [b["weight"] for b in got["spec"]["rules"][0]["backendRefs"]] == [90, 10]
    # the CRD's structural schema is enforced by the real apiserver
    got["spec"]["rules"][0]["backendRefs"][1]["weight"] = -5
    with pytest.raises(ApiException) as err:
        custom.replace_namespaced_custom_object(
            "gateway.networking.k8s.io", "v1", namespace, "httproutes", "inference", got
        )
    assert err.value.status == 422


def test_deployment_pods_run_on_kwok_node(cp, api, namespace):
    t0 = time.monotonic()
    cp.start_controllers()
    cp.start_kwok(nodes=0 if cp.fake_nodes else 1)
    print(
        f"\ncontroller-manager + scheduler + kwok + 1 node ready in {time.monotonic() - t0:.1f}s "
        f"({cp.startup_seconds})"
    )

    apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
    wait_for(
        "default ServiceAccount",
        lambda: core.read_namespaced_service_account("default", namespace),
        90,
        ignore=(ApiException,),
    )
    apps.create_namespaced_deployment(namespace, _deployment("inference", 2))

    def ready():
        d = apps.read_namespaced_deployment("inference", namespace)
        return d if (d.status.ready_replicas or 0) == 2 else None

    wait_for("Deployment inference 2/2 ready", ready, 90, ignore=(ApiException,))
    pods = core.list_namespaced_pod(namespace, label_selector="app=inference").items
    assert len(pods) == 2
    for pod in pods:
        assert pod.spec.node_name in cp.fake_nodes
        assert pod.status.phase == "Running"
        assert any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
        assert pod.metadata.owner_references[0].kind == "ReplicaSet"

    # the garbage collector removes ReplicaSets and pods of a deleted Deployment
    apps.delete_namespaced_deployment("inference", namespace, propagation_policy="Background")
    wait_for(
        "pods garbage-collected",
        lambda: not core.list_namespaced_pod(namespace, label_selector="app=inference").items,
        90,
        ignore=(ApiException,),
    )


def test_rbac_is_enforced_for_serviceaccounts(cp, api, namespace):
    sa_api = cp.client(cp.serviceaccount_kubeconfig(namespace, "reader"))
    sa_core = client.CoreV1Api(sa_api)
    with pytest.raises(ApiException) as err:
        sa_core.list_namespaced_pod(namespace)
    assert err.value.status == 403

    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_namespaced_role(
        namespace,
        client.V1Role(
            metadata=client.V1ObjectMeta(name="pod-reader"),
            rules=[
                client.V1PolicyRule(
                    api_groups=[""], resources=["pods"], verbs=["get", "list", "watch"]
                )
            ],
        ),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        client.V1RoleBinding(
            metadata=client.V1ObjectMeta(name="pod-reader"),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="Role", name="pod-reader"
            ),
            subjects=[
                client.RbacV1Subject(kind="ServiceAccount", name="reader", namespace=namespace)
            ],
        ),
    )
    # the RBAC authorizer works from an informer cache: allow it a moment
    _, status, _ = wait_for(
        "RBAC grant to take effect",
        lambda: _call_ok(lambda: sa_core.list_namespaced_pod_with_http_info(namespace)),
        timeout=30,
        ignore=(ApiException,),
    )
    assert status == 200
    # still least privilege: other verbs and resources stay forbidden
    for call in (
        lambda: sa_core.list_namespaced_secret(namespace),
        lambda: sa_core.delete_collection_namespaced_pod(namespace),
        lambda: sa_core.list_pod_for_all_namespaces(),
    ):
        with pytest.raises(ApiException) as err:
            call()
        assert err.value.status == 403


def _call_ok(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except ApiException as err:
        if err.status == 403:
            return None
        raise


def test_real_kubectl_against_control_plane(cp, namespace):
    out = cp.kubectl("get", "namespace", namespace, "-o", "name")
    assert out.stdout.strip() == f"namespace/{namespace}"
