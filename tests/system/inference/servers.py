"""Real server processes for the inference system tests: ``python -m services.inference``
(one uvicorn worker) and ``mlflow server`` (sqlite backend, proxied artifacts), each on a
free loopback port, logging to a file whose tail goes into failure messages."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from services.core.web.auth import hash_key
from tests.support.processes import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[3]
API_KEY = "system-client-key"
ADMIN_KEY = "system-admin-key"
AUTH = {"X-API-Key": API_KEY}
ADMIN = {"X-Admin-Key": ADMIN_KEY}
# inherited variables that would put the test's own settings into a server process; MLflow's
# HTTP retry knobs are scrubbed too, so the service's own defaults are what is exercised
SCRUB = ("INFERENCE_", "DECISIONS_", "MODEL_URI", "TRACK", "REDIS_URL", "MLFLOW_", "PYTEST_")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUB)}
    env.update(extra)
    return env


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Process:
    """One server process in its own process group (stopping it ends its children too)."""

    def __init__(self, name: str, workdir: Path, port: int | None = None) -> None:
        self.name, self.workdir = name, workdir
        self.port = port or free_port()
        self.log = workdir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.popen is not None, f"{self.name} not started"
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def spawn(self, argv: list[str], env: dict[str, str], timeout: float) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            log.write(f"# {time.strftime('%X')} $ {' '.join(argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                argv,
                env=env,
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited at start-up:\n{log_tail(self.log)}")
            try:
                wait_for_port(self.port, timeout=0.5)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(
                        f"{self.name} not listening on {self.port} after {timeout:.0f} s:\n"
                        f"{log_tail(self.log)}"
                    ) from None

    def stop(self, grace: float = 15.0) -> None:
        if self.popen is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self.popen = None

    def tail(self) -> str:
        return f"--- {self.name} log ---\n{log_tail(self.log)}"


class InferenceProcess(Process):
    """``python -m services.inference`` with API and admin keys and no rate limit."""

    def __init__(self, workdir: Path, model_uri: str, tracking_uri: str, **settings: Any) -> None:
        super().__init__("inference", workdir)
        self.env = clean_env(
            MODEL_URI=model_uri,
            MLFLOW_TRACKING_URI=tracking_uri,
            INFERENCE_HOST="127.0.0.1",
            INFERENCE_PORT=str(self.port),
            INFERENCE_ENVIRONMENT="production",
            INFERENCE_API_KEY_HASHES=json.dumps([hash_key(API_KEY)]),
            INFERENCE_ADMIN_KEY_HASH=hash_key(ADMIN_KEY),
            INFERENCE_RATE_LIMIT="",
            INFERENCE_LOG_JSON="false",  # readable log tails in failure messages
            PYTHONPATH=str(REPO),
        )
        self.env.update({f"INFERENCE_{k.upper()}": str(v) for k, v in settings.items()})

    def start(self, timeout: float = 120.0) -> InferenceProcess:
        self.spawn([sys.executable, "-m", "services.inference"], self.env, timeout)
        return self

    def rss_bytes(self) -> int:
        """Resident memory of the server process (``VmRSS`` in ``/proc/<pid>/status``)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for pid {self.pid}")

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Poll ``/readyz`` until 200; the seconds it took."""
        started = time.monotonic()
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while http.get("/readyz").status_code != 200:
                assert self.alive(), f"inference died\n{self.tail()}"
                assert time.monotonic() - started < timeout, (
                    f"/readyz not 200 after {timeout:.0f} s: {http.get('/readyz').text}\n"
                    f"{self.tail()}"
                )
                time.sleep(0.2)
        return time.monotonic() - started


class MlflowServer(Process):
    """A real ``mlflow server``: sqlite backend and ``--serve-artifacts`` in ``workdir``.
    ``stop()`` then ``start()`` brings it back on the same port with the same data."""

    def __init__(
        self, workdir: Path, app_name: str = "", env: dict[str, str] | None = None
    ) -> None:
        super().__init__("mlflow", workdir)
        self.backend_uri = f"sqlite:///{workdir / 'mlflow.db'}"
        self.app_name = app_name  # e.g. basic-auth (MLflow's authentication app)
        self.env = env or {}

    @property
    def tracking_uri(self) -> str:
        return self.url

    def start(self, timeout: float = 120.0) -> MlflowServer:
        argv = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            self.backend_uri,
            "--serve-artifacts",
            "--artifacts-destination",
            str(self.workdir / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            *(["--app-name", self.app_name] if self.app_name else []),
        ]
        self.spawn(argv, clean_env(**self.env), timeout)
        deadline = time.monotonic() + timeout
        while not self._healthy():
            assert time.monotonic() < deadline, f"mlflow /health not ok\n{self.tail()}"
            time.sleep(0.2)
        return self

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, grace: float = 15.0) -> None:
        super().stop(grace)
        try:  # prove the outage: nothing answers any more
            httpx.get(f"{self.url}/health", timeout=2)
        except httpx.TransportError:
            return
        raise AssertionError(f"mlflow still answers on port {self.port} after stop")


SpawnInference = Callable[..., InferenceProcess]  # the ``spawn_inference`` fixture
