"""Benchmark plumbing: pinned uvicorn servers, request bodies, and ``wrk`` runs."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psutil
from apps import API_KEY

from services.core.datasets import load_config
from services.core.synthetic import ApplicantGenerator
from services.core.web.serving import HTTP_PARSER
from tests.support.processes import free_port, stop, wait_for_port

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

LUA = """
local bodies = {%(bodies)s}
local reqs, i = {}, 0
init = function(args)
  local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = "%(key)s"}
  for k, body in ipairs(bodies) do reqs[k] = wrk.format("POST", nil, headers, body) end
end
request = function() i = i %% #reqs + 1; return reqs[i] end
done = function(s, latency, requests)
  local e = s.errors
  io.write(string.format('{"requests":%%d,"duration_us":%%d,"non_2xx":%%d,"socket_errors":%%d,' ..
    '"p50_us":%%d,"p99_us":%%d,"mean_us":%%.1f}\\n', s.requests, s.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99),
    latency.mean))
end
"""


def bodies(dataset: str, n_single: int, n_bulk: int, seed: int = 7) -> tuple[list[str], str]:
    """``n_single`` one-applicant bodies and one bulk body of ``n_bulk`` applicants."""
    generator = ApplicantGenerator.from_config(load_config(dataset))
    frame = generator.sample(max(n_single, n_bulk), seed=seed)
    records = [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in frame.astype(object).to_dict("records")
    ]
    return [json.dumps(r) for r in records[:n_single]], json.dumps({"applicants": records[:n_bulk]})


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """User + system CPU time ``proc`` and its live children have used so far (a peer may
    run its inference in a worker process)."""
    process = psutil.Process(proc.pid)
    total = 0.0
    for p in [process, *process.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


class Server:
    """One uvicorn process (1 worker) serving ``apps:<name>_app``, pinned to ``core``, with
    the service's HTTP parser (``http``) and asyncio's event loop, as in production."""

    def __init__(self, name: str, env: dict[str, str], core: str, http: str = HTTP_PARSER) -> None:
        self.name, self.core, self.port, self.http = name, core, free_port(), http
        self.env = {**os.environ, **env, "PYTHONPATH": f"{REPO}:{HERE}"}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        cmd = [
            "taskset",
            "-c",
            self.core,
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"apps:{self.name}_app",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--http",
            self.http,
            "--loop",
            "asyncio",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=REPO)
        wait_for_port(self.port, timeout=120)  # lifespan (model load) done

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        assert self.proc is not None
        return cpu_seconds(self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
            self.proc = None


def run_wrk(
    url: str, payloads: list[str], connections: int, seconds: int, core: str
) -> dict[str, Any]:
    literal = ",".join(f"[==[{body}]==]" for body in payloads)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % {"bodies": literal, "key": API_KEY})
    try:
        cmd = [
            "taskset",
            "-c",
            core,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            script.name,
            url,
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    finally:
        Path(script.name).unlink()
    stats = json.loads(out.strip().splitlines()[-1])
    seconds_run = stats.pop("duration_us") / 1e6
    return {
        "rps": round(stats["requests"] / seconds_run, 1),
        "p50_ms": round(stats.pop("p50_us") / 1000, 2),
        "p99_ms": round(stats.pop("p99_us") / 1000, 2),
        "mean_ms": round(stats.pop("mean_us") / 1000, 2),
        **stats,
    }
