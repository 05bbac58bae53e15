"""Scoring traffic for the kind e2e: POST /api/v1/predict through the Gateway at a steady
rate, with applicants drawn around the bundled Default data, until the stop file appears
or the time budget runs out. Prints one JSON summary line (per status code and per served
model version) on exit; exits 1 when more than --max-error-ratio of requests failed.

usage: python traffic.py URL API_KEY --rps 20 --seconds 1800 --stop-file /tmp/stop
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path


def applicant(rng: random.Random) -> dict[str, object]:
    return {
        "student": rng.choice(["No", "No", "Yes"]),
        "balance": round(max(0.0, rng.gauss(835, 480)), 2),
        "income": round(max(800.0, rng.gauss(33500, 13300)), 2),
    }


def post(url: str, key: str, body: dict[str, object]) -> tuple[int, str]:
    data = json.dumps(body).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "X-API-Key": key},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            payload = json.loads(response.read())
            return response.status, str(payload.get("model", {}).get("version", "?"))
    except urllib.error.HTTPError as err:
        return err.code, "-"
    except OSError:
        return 0, "-"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("api_key")
    parser.add_argument("--rps", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=1800.0)
    parser.add_argument("--stop-file", type=Path, default=Path("/tmp/creditrisk-traffic.stop"))
    parser.add_argument("--max-error-ratio", type=float, default=0.02)
    args = parser.parse_args()
    rng = random.Random(7)
    statuses: Counter[int] = Counter()
    versions: Counter[str] = Counter()
    endpoint = args.url.rstrip("/") + "/api/v1/predict"
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline and not args.stop_file.exists():
        started = time.monotonic()
        status, version = post(endpoint, args.api_key, applicant(rng))
        statuses[status] += 1
        versions[version] += 1
        time.sleep(max(0.0, 1.0 / args.rps - (time.monotonic() - started)))
    total = sum(statuses.values())
    failed = sum(n for code, n in statuses.items() if not 200 <= code < 300)
    print(
        json.dumps(
            {
                "requests": total,
                "failed": failed,
                "statuses": dict(statuses),
                "versions": dict(versions),
            }
        ),
        flush=True,
    )
    return 0 if total and failed / total <= args.max_error_ratio else 1


if __name__ == "__main__":
    sys.exit(main())
