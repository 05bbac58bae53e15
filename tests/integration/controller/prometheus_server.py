"""A real Prometheus (Debian package) on a free port scraping given targets every second,
and a tiny prometheus_client exporter with the inference service's metric names."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from tests.support.processes import free_port, stop

MODEL_LABELS = ("model_name", "model_version", "track")


class Exporter:
    """The inference service's series (SPEC §5), set directly by a test."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        http = (*MODEL_LABELS, "route", "method", "status")
        self.requests = Counter("http_requests_total", "requests", http, registry=self.registry)
        self.latency = Histogram(
            "http_request_duration_seconds",
            "latency",
            http,
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0),
        )
        self.predictions = Counter(
            "inference_predictions_total",
            "predictions",
            (*MODEL_LABELS, "outcome"),
            registry=self.registry,
        )
        self.feature_psi = Gauge(
            "inference_feature_psi", "psi", (*MODEL_LABELS, "feature"), registry=self.registry
        )
        self.score_psi = Gauge("inference_score_psi", "psi", MODEL_LABELS, registry=self.registry)
        self.drift_samples = Gauge(
            "inference_drift_samples", "rows", MODEL_LABELS, registry=self.registry
        )
        self.port = free_port()
        self.server, self.thread = start_http_server(self.port, "127.0.0.1", self.registry)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class PrometheusServer:
    def __init__(self, workdir: Path, targets: list[str]) -> None:
        if not shutil.which("prometheus"):
            raise RuntimeError("prometheus not installed: apt-get install prometheus")
        self.workdir, self.targets, self.port = workdir, targets, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _config(self) -> Path:
        config: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": "inference", "static_configs": [{"targets": self.targets}]}
            ],
        }
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        return path

    def start(self) -> PrometheusServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={self._config()}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.wait(lambda: httpx.get(f"{self.address}/-/ready").status_code == 200, "ready")
        return self

    def value(self, promql: str) -> float | None:
        body = httpx.get(f"{self.address}/api/v1/query", params={"query": promql}).json()
        result = body["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_scrapes(self, count: int) -> None:
        """Until every target has been scraped ``count`` more times."""
        query = "min(count_over_time(up[1h]))"
        start = self.value(query) or 0
        self.wait(lambda: (self.value(query) or 0) >= start + count, f"{count} scrapes")

    def wait(self, probe: Any, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if probe():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"Prometheus not {what} after {timeout}s")

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None
