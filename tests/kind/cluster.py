"""The kind cluster of ``make kind-up images kind-load deploy`` as the kind scenarios see
it from the outside: kubectl and helm against its context, the gateway through a
port-forward, Prometheus through the API server's service proxy.

Settings come from the environment like the kind scripts' (scripts/kind/common.sh):
CLUSTER_NAME, NAMESPACE, RELEASE, IMAGE_REPO, IMAGE_TAG. Pure helpers (parsing kubectl's
JSON) are separate from the calls so they can be checked without a cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parents[2]


def offline_bin() -> Path:
    """kind, kubectl of the node image (scripts/kind/offline/common.sh: outside the checkout)."""
    cache = os.environ.get("KIND_OFFLINE_CACHE")
    if cache:
        return Path(cache) / "bin"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "creditrisk-kind" / "bin"


TOOLS_BIN = REPO_ROOT / ".tools" / "bin"  # helm (make install)


@dataclass(frozen=True)
class Cluster:
    name: str
    namespace: str
    release: str
    image_repo: str
    image_tag: str
    kubectl_bin: str
    helm_bin: str

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    def kubectl(self, *args: str, timeout: float = 120, namespace: str | None = "") -> str:
        """kubectl in the release's namespace (``namespace=None``: no -n); stdout, or an
        AssertionError with stderr when it fails."""
        ns = self.namespace if namespace == "" else namespace
        cmd = [self.kubectl_bin, "--context", self.context]
        if ns is not None:
            cmd += ["-n", ns]
        done = subprocess.run(
            [*cmd, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, f"{' '.join(args)}: {done.stderr.strip() or done.stdout}"
        return done.stdout

    def json(self, *args: str, namespace: str | None = "") -> Any:
        return json.loads(self.kubectl(*args, "-o", "json", namespace=namespace))

    def helm(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.helm_bin, "--kube-context", self.context, "-n", self.namespace, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def image(self, name: str) -> str:
        return f"{self.image_repo}/{name}:{self.image_tag}"

    def name_of(self, component: str) -> str:
        return f"{self.release}-{component}"


def from_env() -> Cluster:
    path = os.pathsep.join([str(offline_bin()), str(TOOLS_BIN), os.environ.get("PATH", "")])
    return Cluster(
        name=os.environ.get("CLUSTER_NAME", "creditrisk"),
        namespace=os.environ.get("NAMESPACE", "credit-risk"),
        release=os.environ.get("RELEASE", "creditrisk"),
        image_repo=os.environ.get("IMAGE_REPO", "creditrisk"),
        image_tag=os.environ.get("IMAGE_TAG", "dev"),
        kubectl_bin=shutil.which("kubectl", path=path) or "kubectl",
        helm_bin=shutil.which("helm", path=path) or "helm",
    )


def reachable_problem(cluster: Cluster) -> str | None:
    """Why the scenarios cannot run on this cluster, or None."""
    try:
        cluster.kubectl("get", "--raw", "/readyz", namespace=None, timeout=30)
    except (AssertionError, OSError, subprocess.TimeoutExpired) as err:
        return (
            f"kind cluster {cluster.name} (context {cluster.context}) does not answer: {err}; "
            "run `make test-kind` (or make kind-up images kind-load deploy)"
        )
    status = cluster.helm("status", cluster.release, "-o", "json", timeout=60)
    if status.returncode != 0:
        return f"release {cluster.release} is not installed in {cluster.namespace}: {status.stderr}"
    state = json.loads(status.stdout).get("info", {}).get("status")
    if state != "deployed":
        return f"release {cluster.release} is {state}, not deployed (make deploy)"
    return None


# --- pure helpers ---------------------------------------------------------------------


def hpa_cpu_utilization(hpa: Mapping[str, Any]) -> int | None:
    """The CPU utilisation (percent of the pods' requests) an HPA last read, or None while
    it reads none (``kubectl get hpa`` then prints ``cpu: <unknown>``)."""
    for metric in hpa.get("status", {}).get("currentMetrics") or []:
        if metric.get("type") != "Resource":
            continue
        resource = metric.get("resource", {})
        if resource.get("name") == "cpu":
            value = resource.get("current", {}).get("averageUtilization")
            return int(value) if value is not None else None
    return None


def hpa_condition(hpa: Mapping[str, Any], kind: str) -> tuple[str, str, str] | None:
    """(status, reason, message) of one HPA condition (e.g. ScalingActive), or None."""
    for condition in hpa.get("status", {}).get("conditions") or []:
        if condition.get("type") == kind:
            return (
                condition.get("status", ""),
                condition.get("reason", ""),
                condition.get("message", ""),
            )
    return None


def containers_without_cpu_request(pod: Mapping[str, Any]) -> list[str]:
    """Names of the pod's containers (init containers that keep running included) with no
    CPU request: one such container makes a Resource-cpu HPA read nothing for the pod."""
    spec = pod.get("spec", {})
    containers = list(spec.get("containers") or [])
    containers += [
        c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"
    ]
    return [
        c.get("name", "?")
        for c in containers
        if "cpu" not in (c.get("resources", {}).get("requests") or {})
    ]


def failed_targets(query_result: Mapping[str, Any]) -> list[dict[str, str]]:
    """The series of a Prometheus ``up`` query whose value is not 1 (scrapes that fail)."""
    if query_result.get("status") != "success":
        raise ValueError(f"query failed: {query_result}")
    return [
        dict(series.get("metric", {}))
        for series in query_result["data"]["result"]
        if series.get("value", [0, "0"])[1] != "1"
    ]


# --- the outside view -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def port_forward(cluster: Cluster, namespace: str, target: str, remote: int) -> Iterator[str]:
    """``kubectl port-forward`` to ``target`` (e.g. svc/traefik); yields the local URL."""
    port = free_port()
    proc = subprocess.Popen(
        [
            cluster.kubectl_bin,
            "--context",
            cluster.context,
            "-n",
            namespace,
            "port-forward",
            target,
            f"{port}:{remote}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert proc.poll() is None, (
                    f"port-forward ended: {proc.stdout.read() if proc.stdout else ''}"
                )
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def prometheus_query(cluster: Cluster, namespace: str, service: str, query: str) -> Any:
    """An instant query through the API server's service proxy (no port-forward)."""
    proxy = f"/api/v1/namespaces/{namespace}/services/{service}:9090/proxy"
    path = f"{proxy}/api/v1/query?query={quote(query)}"
    return json.loads(cluster.kubectl("get", "--raw", path, namespace=None))


def run_pod(
    cluster: Cluster,
    name: str,
    script: str,
    labels: Mapping[str, str] | None = None,
    timeout: float = 240,
) -> str:
    """Run ``python -c script`` in a one-shot pod from the inference image (stdlib only,
    hardened like the chart's pods) with the given labels; its log once it has ended."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": cluster.namespace, "labels": dict(labels or {})},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "enableServiceLinks": False,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "probe",
                    "image": cluster.image("inference"),
                    "imagePullPolicy": "Never",
                    "command": ["python", "-c", script],
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    cluster.kubectl("delete", "pod", name, "--ignore-not-found", "--wait=true")
    subprocess.run(
        [cluster.kubectl_bin, "--context", cluster.context, "apply", "-f", "-"],
        input=json.dumps(pod),
        text=True,
        capture_output=True,
        check=True,
    )
    try:
        deadline = time.monotonic() + timeout
        phase = ""
        while time.monotonic() < deadline:
            phase = cluster.kubectl("get", "pod", name, "-o", "jsonpath={.status.phase}")
            if phase in ("Succeeded", "Failed"):
                break
            time.sleep(2)
        assert phase in ("Succeeded", "Failed"), f"probe pod {name} still {phase or 'not started'}"
        return cluster.kubectl("logs", name)
    finally:
        cluster.kubectl("delete", "pod", name, "--ignore-not-found", "--wait=false")
