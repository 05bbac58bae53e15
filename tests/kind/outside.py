"""What the chaos, HPA and batch scenarios look at from the outside: scoring traffic through
the gateway (counted per status and served version, with the time of each failure), the
cluster's objects sampled while a rollout runs, and a container stopped through the node's
own container runtime so the real kubelet restarts it.

Pure checks (``promotions``, ``capacity_drops``, ``rows_exactly_once``) are separate from
the calls so they can be tested without a cluster (tests/unit/scripts/test_kind_outside.py).
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from tests.kind.cluster import REPO_ROOT, Cluster

T = TypeVar("T")
GATEWAY_NS = "traefik"  # offline profile: one Traefik for every Gateway of class traefik
GATEWAY_SVC = "svc/traefik"


# --- pure checks ----------------------------------------------------------------------


def promotions(events: Iterable[Mapping[str, Any]], rollout: str, since: str = "") -> Counter[str]:
    """Per reason, the Events about one ModelRollout at or after ``since`` (RFC 3339; the
    API server's timestamps sort as text), each counted ``count`` times."""
    seen: Counter[str] = Counter()
    for item in events:
        involved = item.get("involvedObject") or {}
        if involved.get("kind") != "ModelRollout" or involved.get("name") != rollout:
            continue
        stamp = item.get("lastTimestamp") or item.get("eventTime") or ""
        if since and stamp and stamp < since:
            continue
        seen[str(item.get("reason", ""))] += int(item.get("count") or 1)
    return seen


def capacity_drops(samples: Sequence[tuple[float, int, int]]) -> list[tuple[float, int, int]]:
    """Samples ``(time, ready stable replicas, floor)`` where the stable Deployment had fewer
    ready replicas than the floor it must keep (the HPA's count when the rollout began)."""
    return [s for s in samples if s[1] < s[2]]


def crash_share(
    failures: Sequence[tuple[float, int, str]], down: float, up: float, grace: float = 5.0
) -> tuple[list[tuple[float, int, str]], list[tuple[float, int, str]]]:
    """Failures split into those while a killed pod was down (``down`` .. ``up`` + grace,
    wall-clock seconds) and the others."""
    inside = [f for f in failures if down - 1.0 <= f[0] <= up + grace]
    return inside, [f for f in failures if not down - 1.0 <= f[0] <= up + grace]


def registered_version(log: str) -> int:
    """The model version a training Job registered, from its log: the trainer (and
    scripts/kind/train_drifted.py) prints one JSON summary line with ``version``."""
    for line in reversed(log.splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            summary = json.loads(line)
        except ValueError:
            continue
        if isinstance(summary, dict) and "version" in summary and "uri" in summary:
            return int(summary["version"])
    raise ValueError(f"no training summary (a JSON line with version and uri) in: {log[-500:]!r}")


def rollback_reason(status: Mapping[str, Any]) -> tuple[str, str]:
    """(reason, message) of a ModelRollout's ``Promoted`` condition when it is False (why
    the candidate was rolled back or refused); ("", "") otherwise."""
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Promoted" and condition.get("status") == "False":
            return str(condition.get("reason", "")), str(condition.get("message", ""))
    return "", ""


def job_outcome(job: Mapping[str, Any]) -> str | None:
    """``succeeded``, ``failed`` (the Job's Failed condition) or None while it runs."""
    status = job.get("status") or {}
    if int(status.get("succeeded") or 0) >= 1:
        return "succeeded"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return "failed"
    return None


def rows_exactly_once(rows: Sequence[int], total: int) -> tuple[int, int, int]:
    """(result rows, duplicated row numbers, missing row numbers) for 1-based row numbers
    that must cover 1..total exactly once; (total, 0, 0) when they do."""
    seen = set()
    duplicated = 0
    for row in rows:
        if row in seen:
            duplicated += 1
        seen.add(row)
    missing = sum(1 for n in range(1, total + 1) if n not in seen)
    return len(rows), duplicated, missing


# --- calls ----------------------------------------------------------------------------


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 2) -> T:
    """Poll ``probe`` until it returns something other than None/False; fail with ``what``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last is not None and last is not False:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def api_key(cluster: Cluster) -> str:
    encoded = cluster.kubectl(
        "get", "secret", cluster.name_of("api-key"), "-o", "jsonpath={.data.api-key}"
    )
    return base64.b64decode(encoded).decode()


def applicant(rng: random.Random) -> dict[str, object]:
    return {
        "student": rng.choice(["No", "No", "Yes"]),
        "balance": round(max(0.0, rng.gauss(835, 480)), 2),
        "income": round(max(800.0, rng.gauss(33500, 13300)), 2),
    }


@dataclass
class Traffic:
    """POST /api/v1/predict through the gateway from ``workers`` threads, each at ``rps``,
    until stopped. Failures (non-2xx, no answer) are kept with their time and status."""

    url: str
    key: str
    rps: float = 8.0
    workers: int = 1
    statuses: Counter[int] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[float, int, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Traffic:
        for index in range(self.workers):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.summary()

    def summary(self) -> dict[str, Any]:
        with self._lock:
            total = sum(self.statuses.values())
            failed = sum(n for code, n in self.statuses.items() if not 200 <= code < 300)
            return {
                "requests": total,
                "failed": failed,
                "statuses": dict(self.statuses),
                "versions": dict(self.versions),
            }

    def _run(self, index: int) -> None:
        rng = random.Random(index)
        endpoint = self.url.rstrip("/") + "/api/v1/predict"
        with httpx.Client(headers={"X-API-Key": self.key}, timeout=10) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                status, version, detail = 0, "-", ""
                try:
                    answer = client.post(endpoint, json=applicant(rng))
                    status = answer.status_code
                    if 200 <= status < 300:
                        version = str(answer.json().get("model", {}).get("version", "?"))
                    else:
                        detail = answer.text[:200]
                except httpx.HTTPError as err:
                    detail = repr(err)[:200]
                with self._lock:
                    self.statuses[status] += 1
                    self.versions[version] += 1
                    if not 200 <= status < 300:
                        self.failures.append((time.time(), status, detail))
                time.sleep(max(0.0, 1.0 / self.rps - (time.monotonic() - started)))


def pods_of(cluster: Cluster, deployment: str) -> list[dict[str, Any]]:
    """The pods a Deployment's selector matches (any ReplicaSet of it)."""
    selector = cluster.json("get", "deployment", deployment)["spec"]["selector"]["matchLabels"]
    labels = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
    items: list[dict[str, Any]] = cluster.json("get", "pods", "-l", labels)["items"]
    return items


def ready(pod: Mapping[str, Any]) -> bool:
    for condition in pod.get("status", {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def restarts(pod: Mapping[str, Any]) -> int:
    return sum(int(c.get("restartCount", 0)) for c in pod["status"].get("containerStatuses") or [])


def stop_container_on_node(cluster: Cluster, pod: Mapping[str, Any]) -> str:
    """Stop the pod's first container through the node's containerd (``crictl stop``), as
    a crash would: the pod object stays, the kubelet sees the container exit and restarts
    it. Returns the stopped container's id."""
    node = pod["spec"]["nodeName"]
    status = (pod["status"].get("containerStatuses") or [{}])[0]
    container = str(status.get("containerID", "")).split("://", 1)[-1]
    assert container, f"pod {pod['metadata']['name']} has no running container: {status}"
    done = subprocess.run(
        ["docker", "exec", node, "crictl", "stop", "--timeout", "0", container],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return container


def rollout_status(cluster: Cluster, name: str) -> dict[str, Any]:
    status: dict[str, Any] = cluster.json("get", "modelrollout", name).get("status") or {}
    return status


def apply(cluster: Cluster, manifest: Mapping[str, Any]) -> None:
    done = subprocess.run(
        [cluster.kubectl_bin, "--context", cluster.context, "apply", "-f", "-"],
        input=json.dumps(manifest),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def start_training(cluster: Cluster, name: str, command: Sequence[str] = ()) -> None:
    """A training Job like the chart's (scripts/kind/job_copy.py), started, not awaited;
    ``command`` (e.g. the faulty scripts/kind/train_drifted.py, mounted from the ConfigMap
    ``creditrisk-e2e``) replaces the trainer's."""
    if command:
        script = REPO_ROOT / "scripts" / "kind" / "train_drifted.py"
        config_map = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "creditrisk-e2e", "namespace": cluster.namespace},
            "data": {script.name: script.read_text()},
        }
        apply(cluster, config_map)
    job = cluster.kubectl("get", "job", cluster.name_of("trainer"), "-o", "json")
    args = [name, json.dumps(list(command))] if command else [name]
    copy = subprocess.run(
        ["python3", str(REPO_ROOT / "scripts" / "kind" / "job_copy.py"), *args],
        input=job,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    apply(cluster, json.loads(copy))


def training_version(cluster: Cluster, name: str, timeout: float = 1200) -> int:
    """Wait for the training Job ``name`` to end; the version it registered. A failed Job
    fails at once, with its log."""
    outcome = wait_for(
        f"training Job {name} to end",
        lambda: job_outcome(cluster.json("get", "job", name)),
        timeout=timeout,
        every=3,
    )
    # the pod that succeeded: `logs job/NAME` may pick a failed earlier attempt
    pods = cluster.json("get", "pods", "-l", f"batch.kubernetes.io/job-name={name}")["items"]
    done = [p["metadata"]["name"] for p in pods if p.get("status", {}).get("phase") == "Succeeded"]
    pod = done[0] if done else f"job/{name}"
    log = cluster.kubectl("logs", pod, "--tail=200")
    assert outcome == "succeeded", f"training Job {name} failed: {log[-2000:]}"
    return registered_version(log)


def events(cluster: Cluster) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = cluster.json("get", "events")["items"]
    return items
