"""``wrk`` as the load generator of the soak: flat out (capacity) or paced to a rate.

The Lua script rotates realistic single-applicant bodies on ``POST /api/v1/predict`` and
sends a bulk request every ``bulk_every``-th request. Pacing is open-loop: every request
takes the next slot of a fixed schedule (``1000 / rate`` ms apart, clock read through
LuaJIT's ffi) and waits for it in wrk's ``delay()``; a request behind schedule goes at once,
so a slow server does not lower the offered rate, only the achieved one. ``response()``
counts every status code, ``done()`` prints one JSON line with the totals.
"""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from services.core.datasets import load_config
from services.core.synthetic import ApplicantGenerator

SCRIPT = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } soak_timespec;
int clock_gettime(int clk_id, soak_timespec *tp);
]]
local ts = ffi.new("soak_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local singles = {%(singles)s}
local bulk = [==[%(bulk)s]==]
local bulk_every, period_ms = %(bulk_every)d, %(period_ms).6f
local reqs, bulk_req, i, next_slot = {}, nil, 0, nil
local threads = {}
statuses = {}

function setup(thread) table.insert(threads, thread) end

function init(args)
  local headers = {["Content-Type"] = "application/json", ["X-API-Key"] = "%(key)s"}
  for k, body in ipairs(singles) do
    reqs[k] = wrk.format("POST", "/api/v1/predict", headers, body)
  end
  bulk_req = wrk.format("POST", "/api/v1/predict/bulk", headers, bulk)
end

function request()
  i = i + 1
  if bulk_every > 0 and i %% bulk_every == 0 then return bulk_req end
  return reqs[i %% #reqs + 1]
end

if period_ms > 0 then
  function delay()
    local now = now_ms()
    if next_slot == nil then next_slot = now end
    local wait = next_slot - now
    next_slot = next_slot + period_ms
    if wait < 0 then return 0 end
    return math.floor(wait)
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local parts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      table.insert(parts, string.format('"%%d":%%d', status, n))
    end
  end
  local e = summary.errors
  io.write(string.format('{"requests":%%d,"duration_us":%%d,"connect":%%d,"read":%%d,' ..
    '"write":%%d,"timeout":%%d,"p50_us":%%d,"p99_us":%%d,"statuses":{%%s}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), table.concat(parts, ",")))
end
"""


@dataclass(frozen=True)
class Bodies:
    singles: list[str]
    bulk: str
    bulk_rows: int


def make_bodies(dataset: str, n_single: int, bulk_rows: int, seed: int = 11) -> Bodies:
    """Synthetic applicants (smoothed bootstrap of the real data) as JSON bodies."""
    frame = ApplicantGenerator.from_config(load_config(dataset)).sample(
        max(n_single, bulk_rows), seed=seed
    )
    records = [
        {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]
    return Bodies(
        [json.dumps(r) for r in records[:n_single]],
        json.dumps({"applicants": records[:bulk_rows]}),
        bulk_rows,
    )


@dataclass(frozen=True)
class WrkRun:
    requests: int
    seconds: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    p50_ms: float
    p99_ms: float
    target_rate: float | None = None

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    def summary(self) -> str:
        offered = f" (target {self.target_rate:.0f}/s)" if self.target_rate else ""
        return (
            f"{self.requests} requests in {self.seconds:.1f} s = {self.rate:.0f}/s{offered}; "
            f"statuses {self.statuses}; socket errors {self.socket_errors}; "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"
        )


def run_wrk(
    url: str,
    bodies: Bodies,
    api_key: str,
    *,
    seconds: int,
    connections: int,
    rate: float | None = None,
    bulk_every: int = 50,
) -> WrkRun:
    """One ``wrk`` run (one thread) against ``url``: flat out, or paced to ``rate`` req/s."""
    singles = ",".join(f"[==[{body}]==]" for body in bodies.singles)
    script = SCRIPT % {
        "singles": singles,
        "bulk": bodies.bulk,
        "bulk_every": bulk_every,
        "period_ms": 1000.0 / rate if rate else 0.0,
        "key": api_key,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    try:
        done = subprocess.run(
            [*argv, "-s", handle.name, url],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        Path(handle.name).unlink()
    assert done.returncode == 0, f"wrk failed ({done.returncode}): {done.stderr}{done.stdout}"
    stats = json.loads(done.stdout.strip().splitlines()[-1])
    return WrkRun(
        requests=stats["requests"],
        seconds=stats["duration_us"] / 1e6,
        statuses={int(k): v for k, v in stats["statuses"].items()},
        socket_errors={k: stats[k] for k in ("connect", "read", "write", "timeout")},
        p50_ms=stats["p50_us"] / 1000,
        p99_ms=stats["p99_us"] / 1000,
        target_rate=rate,
    )
