"""One inference pod's real process (the container runtime's part) and the status patch
that reports its readiness (the kubelet's part); no API calls here."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tests.e2e.harness.podenv import Obj, container_env

REPO_ROOT = Path(__file__).resolve().parents[3]
COMMAND = (sys.executable, "-m", "services.inference")
# inherited variables that would leak the test's own settings into a "pod"
SCRUB = ("INFERENCE_", "MODEL_URI", "TRACK", "KUBECONFIG", "PYTEST_")


@dataclass
class PodProcess:
    """A pod's process, kept across restarts of the process (same port and log)."""

    uid: str
    name: str
    port: int
    pod: Obj  # the latest version seen
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    ready: bool | None = None  # readiness last written to the pod (None: not yet)
    restarts: int = 0
    restart_at: float = 0.0  # monotonic time of the next restart after a crash

    @property
    def track(self) -> str:
        labels = self.pod.get("metadata", {}).get("labels") or {}
        return str(labels.get("track", "stable"))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def spawn(self, env: dict[str, str]) -> None:
        with self.log.open("ab") as log:
            log.write(f"# runner: spawn at {time.strftime('%X')}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                COMMAND,
                env=env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def crashed(self) -> bool:
        return self.popen is not None and self.popen.poll() is not None

    def signal(self, sig: signal.Signals) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)

    def reap(self, grace: float = 10.0) -> None:
        """Wait for the process after a signal; SIGKILL it after ``grace`` seconds."""
        if self.popen is None:
            return
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(5)


def process_env(
    proc: PodProcess, tracking_uri: str, extra: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """(environment, unresolved pod env names): this machine's environment without the
    test's own settings, then the pod's container env, then what makes it run here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUB)}
    pod_env, unresolved = container_env(proc.pod)
    env.update(pod_env)
    env.update(extra)
    env.update(
        {
            "MLFLOW_TRACKING_URI": tracking_uri,
            "INFERENCE_HOST": "127.0.0.1",
            "INFERENCE_PORT": str(proc.port),
            "POD_NAME": proc.name,
        }
    )
    return env, unresolved


def ready_patch(pod: Obj, ready: bool, restarts: int, now: datetime | None = None) -> Obj:
    """Strategic-merge body for the pod's status subresource: conditions ``Ready`` and
    ``ContainersReady`` (merged by type) and the whole ``containerStatuses`` list (an
    atomic list in the API) with ``ready`` and ``restartCount`` set."""
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    status = "True" if ready else "False"
    reason = None if ready else "ReadinessProbeFailed"
    conditions = [
        {"type": kind, "status": status, "reason": reason, "lastTransitionTime": stamp}
        for kind in ("ContainersReady", "Ready")
    ]
    body: Obj = {"status": {"conditions": conditions}}
    containers = pod.get("status", {}).get("containerStatuses") or []
    if containers:
        body["status"]["containerStatuses"] = [
            {**item, "ready": ready, "restartCount": restarts} for item in containers
        ]
    return body


def is_ready(pod: Obj) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
