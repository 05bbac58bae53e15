"""A real Prometheus (the Debian ``prometheus`` binary) for the rollout loop.

It scrapes every target listed in a ``file_sd`` JSON file every second; the pod runner
keeps that file current (one target per inference process, labelled ``namespace``,
``pod`` and ``track``). ``honor_labels`` keeps the labels the inference service puts on
its own series (``model_name``, ``model_version``, ``track``) authoritative.

``stop()`` and ``start()`` keep the port and the TSDB folder, so a scenario can take
Prometheus away mid-analysis and bring the same server back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support.processes import free_port, stop

BINARY = os.environ.get("PROMETHEUS", "/usr/bin/prometheus")
SCRAPE_INTERVAL = "1s"


class TargetFile:
    """The ``file_sd`` list: ``set``/``remove`` rewrite it atomically (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._targets: dict[str, tuple[str, dict[str, str]]] = {}
        self._lock = threading.Lock()
        self._write()

    def set(self, key: str, address: str, labels: dict[str, str]) -> None:
        with self._lock:
            self._targets[key] = (address, dict(labels))
            self._write()

    def remove(self, key: str) -> None:
        with self._lock:
            if self._targets.pop(key, None) is not None:
                self._write()

    def addresses(self) -> dict[str, str]:
        with self._lock:
            return {key: address for key, (address, _) in self._targets.items()}

    def _write(self) -> None:
        groups = [{"targets": [addr], "labels": labels} for addr, labels in self._targets.values()]
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(groups, indent=1))
        tmp.replace(self.path)  # atomic: Prometheus never reads half a file


def config(targets: Path) -> dict[str, Any]:
    """The generated prometheus.yml: one job reading the target file, 1 s everything."""
    return {
        "global": {
            "scrape_interval": SCRAPE_INTERVAL,
            "scrape_timeout": SCRAPE_INTERVAL,
            "evaluation_interval": SCRAPE_INTERVAL,
        },
        "scrape_configs": [
            {
                "job_name": "inference",
                "honor_labels": True,
                "file_sd_configs": [{"files": [str(targets)], "refresh_interval": "1s"}],
            }
        ],
    }


class PrometheusServer:
    """``prometheus`` on a free loopback port with its config and TSDB in ``workdir``."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        if not Path(BINARY).is_file() and not shutil.which(BINARY):
            raise RuntimeError(f"{BINARY} missing: apt-get install prometheus")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.targets = TargetFile(workdir / "targets.json")
        self.config_path = workdir / "prometheus.yml"
        self.config_path.write_text(yaml.safe_dump(config(self.targets.path)))
        self.log_path = workdir / "prometheus.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        return [
            BINARY,
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'tsdb'}",
            "--storage.tsdb.retention.time=2h",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ]

    def start(self, timeout: float = 60.0) -> PrometheusServer:
        if self.running:
            return self
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self._wait_ready(timeout)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None

    def restart(self, timeout: float = 60.0) -> None:
        self.stop()
        self.start(timeout)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited ({self.proc.returncode}): {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready after {timeout}s: {self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # ------------------------------------------------------------------ queries
    def query(self, promql: str) -> list[dict[str, Any]]:
        """Instant query → the ``result`` vector (raises on an API error)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5.0)
        response.raise_for_status()
        body = response.json()
        if body.get("status") != "success":
            raise RuntimeError(f"prometheus query failed: {body}")
        return list(body["data"]["result"])

    def value(self, promql: str) -> float | None:
        """The single value of an instant query (``None`` when the vector is empty)."""
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def active_targets(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/targets", timeout=5.0)
        response.raise_for_status()
        return list(response.json()["data"]["activeTargets"])
