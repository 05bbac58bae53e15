"""The chart against a real control plane (kube-apiserver, controller-manager, scheduler,
kwok nodes; tests/support/controlplane.py), with the Gateway API and Prometheus Operator
CRDs from their Go modules:

- every rendered manifest (default and all-features values) passes a server-side dry run,
  i.e. the real API server's schema validation and admission for Kubernetes >= 1.31;
- `helm install --wait` succeeds, every Deployment's pods reach Running on kwok nodes and
  the trainer Job completes (kwok completes Job pods);
- the controller's ServiceAccount gets exactly the least privilege the chart grants;
- `helm test` passes: kwok cannot run containers, so the test Pod is marked
  `kwok.x-k8s.io/status: custom` and this harness runs the Pod's own command and script
  (read back from the API) against real local processes - MLflow server, inference with a
  freshly trained model and the chart's generated API key, batch API on a real Redis -
  then writes the exit code into the Pod's phase for helm to see;
- `helm uninstall` leaves nothing of the release behind but the CRDs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.deploy.chart import (
    ALL_FEATURES,
    CHART,
    CI_VALUES,
    REPO,
    helm,
    template_text,
    tool,
)
from tests.support.controlplane import ControlPlane, build_if_missing
from tests.support.processes import RedisServer, free_port, stop, wait_for_port
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration

NS = "credit-risk"
RELEASE = "cr"
PREFIX = f"{RELEASE}-creditrisk"
PROM_CRDS = (
    "monitoring.coreos.com_servicemonitors.yaml",
    "monitoring.coreos.com_prometheusrules.yaml",
)
INSTALL_VALUES = {
    "environment": "production",
    "exposure": {"gateway": {"create": True}},
    "batch": {"storage": {"storageClass": "manual"}},
    "mlflow": {"persistence": {"storageClass": "manual"}},
    "metrics": {
        "serviceMonitor": {"enabled": True},
        "prometheusRule": {"enabled": True},
        "grafanaDashboard": {"enabled": True},
    },
    # kwok leaves this Pod alone: the harness below runs it and reports its phase
    "tests": {"podAnnotations": {"kwok.x-k8s.io/status": "custom"}},
}


def prometheus_crds(cp: ControlPlane) -> list[Path]:
    """ServiceMonitor + PrometheusRule CRDs of the prometheus-operator Go module (build.sh)."""
    folder = cp.crd_dir("prometheus-operator")
    found = [folder / name for name in PROM_CRDS if (folder / name).exists()]
    assert len(found) == len(PROM_CRDS), f"{folder}: run tests/controlplane/build.sh"
    return found


@pytest.fixture(scope="module")
def cp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    build_if_missing()
    plane = ControlPlane()
    try:
        plane.start()
        plane.start_controllers()
        plane.start_kwok(nodes=1)
        plane.apply(plane.crd_dir("gateway-api"), *prometheus_crds(plane))
        # k8s/namespace.yaml: Pod Security "restricted" enforced, so a pod of the chart that
        # broke the restricted profile would never be created
        plane.kubectl("apply", "-f", str(REPO / "k8s" / "namespace.yaml"))
        # the second namespace ci/all-features-values.yaml lets the controller watch
        plane.kubectl("create", "namespace", "credit-risk-staging")
        pvs = tmp_path_factory.mktemp("pv")
        for i in range(3):  # static volumes the PVCs bind to (no provisioner on kwok)
            plane.apply(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": f"manual-{i}"},
                    "spec": {
                        "capacity": {"storage": "100Gi"},
                        "accessModes": ["ReadWriteOnce", "ReadWriteMany"],
                        "storageClassName": "manual",
                        "hostPath": {"path": str(pvs / str(i))},
                    },
                }
            )
        yield plane
    finally:
        plane.stop()


def kube(cp: ControlPlane, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [tool("kubectl"), f"--kubeconfig={cp.kubeconfig}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {proc.stdout}\n{proc.stderr}")
    return proc


def helm_in(
    cp: ControlPlane, *args: str, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    return helm(*args, f"--kubeconfig={cp.kubeconfig}", check=check, timeout=timeout)


@pytest.mark.parametrize(
    "values",
    [None, ALL_FEATURES, CI_VALUES / "decision-record-values.yaml"],
    ids=["default", "all-features", "decision-record"],
)
def test_server_side_dry_run_of_every_manifest(
    cp: ControlPlane, values: Path | None, tmp_path: Path
) -> None:
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(template_text(*([values] if values else []), release=RELEASE, namespace=NS))
    crds = tmp_path / "crds.yaml"
    crds.write_text(
        "".join(f"---\n{p.read_text()}" for p in sorted((CHART / "crds").glob("*.yaml"))) or ""
    )
    # every object names its namespace (the controller's Roles span several)
    proc = kube(cp, "apply", "--dry-run=server", "-f", str(rendered))
    out = proc.stdout
    # the namespace enforces Pod Security "restricted": a template breaking it warns here
    assert "Warning" not in proc.stderr, proc.stderr
    applied = [line for line in out.splitlines() if "(server dry run)" in line]
    documents = [d for d in yaml.safe_load_all(rendered.read_text()) if d]
    assert len(applied) == len(documents), out


def test_server_side_dry_run_of_the_plain_manifests(cp: ControlPlane) -> None:
    """k8s/manifests/creditrisk.yaml (CRD included) as the API server would apply it."""
    manifests = REPO / "k8s" / "manifests" / "creditrisk.yaml"
    out = kube(cp, "apply", "--dry-run=server", "--server-side", "-f", str(manifests)).stdout
    documents = [d for d in yaml.safe_load_all(manifests.read_text()) if d]
    assert out.count("(server dry run)") == len(documents), out


@pytest.fixture(scope="module")
def installed(cp: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Path:
    values = tmp_path_factory.mktemp("values") / "install.yaml"
    values.write_text(yaml.safe_dump(INSTALL_VALUES))
    t0 = time.monotonic()
    helm_in(
        cp,
        "install",
        RELEASE,
        str(CHART),
        "-n",
        NS,
        "-f",
        str(values),
        "--wait",
        "--wait-for-jobs",
        "--timeout",
        "5m",
    )
    print(f"\nhelm install --wait: {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return values


def test_install_runs_every_workload(cp: ControlPlane, installed: Path) -> None:
    deployments = json.loads(kube(cp, "get", "deployments", "-n", NS, "-o", "json").stdout)["items"]
    names = {d["metadata"]["name"] for d in deployments}
    assert names == {
        f"{PREFIX}-{c}"
        for c in ("inference", "batch-api", "batch-worker", "redis", "mlflow", "controller")
    }
    for d in deployments:
        want = d["spec"].get("replicas", 1)
        assert d["status"].get("availableReplicas") == want, d["metadata"]["name"]
    pods = json.loads(kube(cp, "get", "pods", "-n", NS, "-o", "json").stdout)["items"]
    running = [
        p for p in pods if p["metadata"].get("ownerReferences", [{}])[0].get("kind") == "ReplicaSet"
    ]
    assert len(running) == sum(d["spec"].get("replicas", 1) for d in deployments)
    for pod in running:
        assert pod["status"]["phase"] == "Running", pod["metadata"]["name"]
        assert pod["spec"]["nodeName"] in cp.fake_nodes
    job = json.loads(kube(cp, "get", "job", f"{PREFIX}-trainer", "-n", NS, "-o", "json").stdout)
    assert job["status"].get("succeeded") == 1
    for kind in (
        "httproute",
        "gateway",
        "servicemonitor",
        "prometheusrule",
        "networkpolicy",
        "hpa",
        "pdb",
    ):
        assert kube(cp, "get", kind, "-n", NS, "-o", "name").stdout.strip(), kind


def rbac_rules() -> list[tuple[str, ...]]:
    """`kubectl auth can-i` arguments for every grant in k8s/rbac/clusterrole.yaml (the chart
    mirrors it): (verb, resource.group[, --subresource=x])."""
    role = yaml.safe_load((REPO / "k8s" / "rbac" / "clusterrole.yaml").read_text())
    found: list[tuple[str, ...]] = []
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                kind, _, sub = res.partition("/")
                target = f"{kind}.{group}" if group else kind
                for verb in rule["verbs"]:
                    found.append((verb, target, f"--subresource={sub}") if sub else (verb, target))
    return found


CANNOT = [
    ("get", "secrets"),
    ("create", "pods"),
    ("delete", "httproutes.gateway.networking.k8s.io"),
    ("create", "roles.rbac.authorization.k8s.io"),
    ("delete", "modelrollouts.mlops.creditrisk.io"),
    ("create", "configmaps"),
    ("list", "pods"),  # list/watch only on the kinds its read cache watches
    ("update", "services"),
]


def test_controller_serviceaccount_is_least_privilege(cp: ControlPlane, installed: Path) -> None:
    sa = cp.serviceaccount_kubeconfig(NS, f"{PREFIX}-controller", create=False)

    def can(verb: str, resource: str, *more: str, namespace: str = NS) -> bool:
        proc = subprocess.run(
            [
                tool("kubectl"),
                f"--kubeconfig={sa}",
                "auth",
                "can-i",
                verb,
                resource,
                *more,
                "-n",
                namespace,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return proc.stdout.strip() == "yes"

    wait_for("RBAC cache", lambda: can("patch", "httproutes.gateway.networking.k8s.io"), timeout=30)
    assert [c for c in rbac_rules() if not can(*c)] == []
    assert [c for c in CANNOT if can(*c)] == []
    assert not can("create", "deployments.apps", namespace="default"), (
        "namespaced install must not reach other namespaces"
    )


def test_controller_reconciles_the_example_under_the_chart_rbac(
    cp: ControlPlane, installed: Path, tmp_path: Path
) -> None:
    """`python -m controller` with the chart's ServiceAccount token (so the chart's RBAC is
    all it has) picks up k8s/examples/modelrollout.yaml aimed at the chart's workload and
    writes its status; with no MLflow candidate yet it holds in a waiting phase."""
    sa = cp.serviceaccount_kubeconfig(NS, f"{PREFIX}-controller", create=False)
    example = yaml.safe_load((REPO / "k8s" / "examples" / "modelrollout.yaml").read_text())
    example["metadata"]["namespace"] = NS
    example["spec"]["targetRef"]["name"] = f"{PREFIX}-inference"
    example["spec"]["router"] = {"httpRoute": {"name": f"{PREFIX}-inference"}}
    manifest = tmp_path / "rollout.yaml"
    manifest.write_text(yaml.safe_dump(example))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),  # the work tree, whatever an older editable install maps
        "CONTROLLER_NAMESPACES": NS,
        "CONTROLLER_KUBECONFIG": str(sa),
        "CONTROLLER_METRICS_PORT": str(free_port()),
        "CONTROLLER_LIVENESS_PORT": str(free_port()),
        "CONTROLLER_TICK_SECONDS": "1",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
    }
    log = open(tmp_path / "controller.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "controller"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        kube(cp, "apply", "-f", str(manifest))

        def status() -> dict[str, Any] | None:
            got = json.loads(
                kube(
                    cp, "get", "modelrollout", example["metadata"]["name"], "-n", NS, "-o", "json"
                ).stdout
            )
            return got.get("status") if got.get("status", {}).get("phase") else None

        found = wait_for("the controller to write the rollout's status", status, timeout=90)
        assert found["phase"] in ("Pending", "Initializing", "Failed"), found
        forbidden = (tmp_path / "controller.log").read_text(errors="replace").count(" 403")
        assert forbidden == 0, "the controller hit RBAC denials with the chart's ServiceAccount"
        kube(cp, "delete", "-f", str(manifest), "--wait=true", "--timeout=60s")
    finally:
        stop(proc)  # type: ignore[arg-type]
        log.close()
        print((tmp_path / "controller.log").read_text(errors="replace")[-3000:], file=sys.stderr)


# ---------------------------------------------------------------- helm test, for real
class LocalRelease:
    """The release's servers as real local processes (what the kwok pods stand for)."""

    def __init__(self, workdir: Path, api_key: str) -> None:
        self.workdir, self.api_key = workdir, api_key
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: dict[str, str] = {}
        self.redis: RedisServer | None = None

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str], port: int, timeout: float = 120
    ) -> str:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs.append(
            subprocess.Popen(
                argv,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        )
        wait_for_port(port, timeout=timeout)
        return f"http://127.0.0.1:{port}"

    def start(self) -> LocalRelease:
        from tests.support.models import tracking_uri_for, train_quick

        store = tracking_uri_for(self.workdir / "mlflow")
        model = train_quick(store, model_name="credit-default")  # version 1 -> champion
        assert "champion" in model.summary.aliases
        port = free_port()
        self.urls["mlflow"] = self._spawn(
            "mlflow",
            [
                sys.executable,
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                store,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--artifacts-destination",
                str(self.workdir / "artifacts"),
            ],
            {},
            port,
        )
        tracking = {"MLFLOW_TRACKING_URI": store}
        digests = json.dumps([hashlib.sha256(self.api_key.encode()).hexdigest()])
        port = free_port()
        self.urls["inference"] = self._spawn(
            "inference",
            [sys.executable, "-m", "services.inference"],
            {
                **tracking,
                "MODEL_URI": "models:/credit-default@champion",
                "TRACK": "stable",
                "INFERENCE_PORT": str(port),
                "INFERENCE_HOST": "127.0.0.1",
                "INFERENCE_ENVIRONMENT": "production",
                "INFERENCE_API_KEY_HASHES": digests,
            },
            port,
        )
        self.redis = RedisServer(self.workdir / "redis").start()
        port = free_port()
        self.urls["batch-api"] = self._spawn(
            "batch-api",
            [sys.executable, "-m", "services.batch", "api"],
            {
                **tracking,
                "MODEL_URI": "models:/credit-default@champion",
                "REDIS_URL": self.redis.url,
                "BATCH_PORT": str(port),
                "BATCH_HOST": "127.0.0.1",
                "BATCH_STORAGE_DIR": str(self.workdir / "batch"),
                "BATCH_ENVIRONMENT": "production",
                "BATCH_API_KEY_HASHES": digests,
            },
            port,
        )
        return self

    def stop(self) -> None:
        for proc in reversed(self.procs):
            stop(proc)  # type: ignore[arg-type]
        if self.redis:
            self.redis.stop()


def run_test_pod(cp: ControlPlane, pod: dict[str, Any], local: LocalRelease, workdir: Path) -> int:
    """Run the Pod's container command with its env (Secret refs resolved from the API,
    Service URLs pointed at the local processes) and its ConfigMap-mounted script."""
    (container,) = pod["spec"]["containers"]
    env = {}
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif ref := item.get("valueFrom", {}).get("secretKeyRef"):
            secret = json.loads(
                kube(cp, "get", "secret", ref["name"], "-n", NS, "-o", "json").stdout
            )
            env[item["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
    for var, component in (
        ("INFERENCE_URL", "inference"),
        ("BATCH_URL", "batch-api"),
        ("MLFLOW_URL", "mlflow"),
    ):
        assert env[var].startswith(f"http://{PREFIX}-{component}:"), env[var]
        env[var] = local.urls[component]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volume = next(v for v in pod["spec"]["volumes"] if v["name"] == "smoke")
    cm = json.loads(
        kube(cp, "get", "configmap", volume["configMap"]["name"], "-n", NS, "-o", "json").stdout
    )
    script_dir = workdir / "smoke"
    script_dir.mkdir(exist_ok=True)
    for name, text in cm["data"].items():
        (script_dir / name).write_text(text)
    argv = [
        sys.executable if a == "python" else a.replace(mounts["smoke"], str(script_dir))
        for a in container["command"]
    ]
    proc = subprocess.run(
        argv, env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False
    )
    print(proc.stdout + proc.stderr, file=sys.stderr)
    return proc.returncode


def test_helm_test_passes(cp: ControlPlane, installed: Path, tmp_path: Path) -> None:
    secret = json.loads(
        kube(cp, "get", "secret", f"{PREFIX}-api-key", "-n", NS, "-o", "json").stdout
    )
    local = LocalRelease(tmp_path, base64.b64decode(secret["data"]["api-key"]).decode()).start()
    results: dict[str, int] = {}

    def harness() -> None:
        def pod() -> dict[str, Any] | None:
            proc = kube(cp, "get", "pod", f"{PREFIX}-test", "-n", NS, "-o", "json", check=False)
            return json.loads(proc.stdout) if proc.returncode == 0 else None

        found = wait_for("the helm test Pod", pod, timeout=120)
        code = results["exit"] = run_test_pod(cp, found, local, tmp_path)
        phase = "Succeeded" if code == 0 else "Failed"
        terminated = {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}
        status = {
            "status": {
                "phase": phase,
                "containerStatuses": [
                    {
                        "name": "smoke-test",
                        "ready": False,
                        "restartCount": 0,
                        "image": found["spec"]["containers"][0]["image"],
                        "imageID": "",
                        "state": {"terminated": terminated},
                    }
                ],
            }
        }
        kube(
            cp,
            "patch",
            "pod",
            f"{PREFIX}-test",
            "-n",
            NS,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps(status),
        )

    thread = threading.Thread(target=harness, daemon=True)
    try:
        thread.start()
        proc = helm_in(cp, "test", RELEASE, "-n", NS, "--timeout", "5m", check=False)
        thread.join(timeout=60)
    finally:
        local.stop()
    assert results.get("exit") == 0, f"smoke test script failed:\n{proc.stdout}\n{proc.stderr}"
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Phase:          Succeeded" in proc.stdout or "Succeeded" in proc.stdout


def test_uninstall_leaves_only_crds(cp: ControlPlane, installed: Path) -> None:
    helm_in(cp, "uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "3m")
    kinds = (
        "all,configmaps,secrets,serviceaccounts,roles,rolebindings,networkpolicies,pvc,pdb,"
        "httproutes,gateways,servicemonitors,prometheusrules,jobs,hpa,ingresses"
    )

    def leftovers() -> list[str]:
        out = kube(cp, "get", kinds, "-n", NS, "-o", "name").stdout.split()
        # the namespace's own default ServiceAccount and CA ConfigMap belong to Kubernetes
        return [o for o in out if o not in ("serviceaccount/default", "configmap/kube-root-ca.crt")]

    wait_for("nothing left in the namespace", lambda: not leftovers() or None, timeout=120)
    cluster = kube(cp, "get", "clusterroles,clusterrolebindings", "-o", "name").stdout.split()
    assert not [o for o in cluster if PREFIX in o]
    assert kube(
        cp, "get", "crd", "httproutes.gateway.networking.k8s.io", "-o", "name"
    ).stdout.strip()
