"""The operator under test as its own process: ``python -m controller``.

It talks to the API server with a ServiceAccount kubeconfig (bound to the roles of
``k8s/rbac/``), so a missing permission fails the scenario. ``kill()`` is a SIGKILL — no
chance to tidy up, like a node loss — and ``start()`` again brings up a fresh process on
the same settings, which must resume from the ModelRollout's status alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.processes import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]


class OperatorProcess:
    def __init__(
        self,
        kubeconfig: Path,
        tracking_uri: str,
        workdir: Path,
        namespaces: list[str] | None = None,
        tick: float = 1.0,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.kubeconfig, self.tracking_uri, self.workdir = kubeconfig, tracking_uri, workdir
        self.namespaces, self.tick = list(namespaces or []), tick
        self.extra_env = dict(extra_env or {})
        self.liveness_port, self.metrics_port = free_port(), free_port()
        self.log_path = workdir / "operator.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def argv(self) -> list[str]:
        scope = [f"--namespace={ns}" for ns in self.namespaces] or ["--all-namespaces"]
        return [
            sys.executable,
            "-m",
            "controller",
            f"--kubeconfig={self.kubeconfig}",
            f"--tick={self.tick}",
            *scope,
        ]

    def environment(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("CONTROLLER_", "KUBECONFIG", "PYTEST_"))
        }
        env.update(
            {
                "MLFLOW_TRACKING_URI": self.tracking_uri,
                "CONTROLLER_LIVENESS_PORT": str(self.liveness_port),
                "CONTROLLER_METRICS_PORT": str(self.metrics_port),
                "CONTROLLER_LOG_JSON": "false",
                **self.extra_env,
            }
        )
        return env

    def start(self, timeout: float = 60.0) -> OperatorProcess:
        if self.running:
            return self
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts + 1} at {time.strftime('%X')}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.argv(),
                env=self.environment(),
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self._wait_live(timeout)
        return self

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _wait_live(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://127.0.0.1:{self.liveness_port}/healthz"
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"operator exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"operator not live after {timeout}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the whole process group (no shutdown handlers run)."""
        self._signal(signal.SIGKILL)

    def stop(self, grace: float = 10.0) -> None:
        self._signal(signal.SIGTERM, grace)

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout)

    def _signal(self, sig: signal.Signals, grace: float = 5.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
