"""Render ``inference_profile_<name>.json`` runs side by side as ``inference_profile.md``.

python bench/inference/profile_report.py before after [--note=TEXT]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[2] / "bench" / "results"


def table(runs: list[dict[str, Any]]) -> list[str]:
    names = [
        r["name"] if r.get("http", r["name"]) == r["name"] else f"{r['name']} ({r['http']})"
        for r in runs
    ]
    lines = [
        "| component | " + " | ".join(f"{n} µs/req" for n in names) + " |",
        "|---|" + "---:|" * len(runs),
    ]
    parts = list(runs[0]["components_us"])
    for part in parts:
        cells = " | ".join(f"{r['components_us'].get(part, 0.0):.0f}" for r in runs)
        lines.append(f"| {part} | {cells} |")
    for part in runs[0]["framework_detail_us"]:
        cells = " | ".join(f"{r['framework_detail_us'].get(part, 0.0):.0f}" for r in runs)
        lines.append(f"| ↳ of which {part} (own time) | {cells} |")
    total = " | ".join(f"**{r['cpu_us_per_req']:.0f}**" for r in runs)
    lines.append(f"| **total server CPU per request** | {total} |")
    rps = " | ".join(f"{r['rps']:.0f}" for r in runs)
    lines.append(f"| req/s in the plain run (shared machine) | {rps} |")
    return lines


# a framework row renamed since (runs before httptools parsed with h11 only)
RENAMED = {"uvicorn + h11 (HTTP parsing)": "uvicorn + h11/httptools (HTTP parsing)"}


def load(name: str) -> dict[str, Any]:
    run: dict[str, Any] = json.loads((OUT / f"inference_profile_{name}.json").read_text())
    detail = run["framework_detail_us"]
    run["framework_detail_us"] = {RENAMED.get(k, k): v for k, v in detail.items()}
    run.setdefault("http", "h11")
    return run


def main(argv: list[str]) -> int:
    notes = [a.removeprefix("--note=") for a in argv if a.startswith("--note=")]
    runs = [load(n) for n in argv if not n.startswith("--note=")]
    first = runs[0]
    lines = [
        "# Where the CPU of one `/api/v1/predict` goes (every feature on)",
        "",
        f"`bench/inference/profile_predict.py`: the full app (API key, contract validation, "
        f"metrics, drift, rate limiter, request ids) in one uvicorn process pinned to core 0, "
        f"wrk on core 1 at concurrency {first['concurrency']} with the Default model, "
        f"{first['seconds']} s plain (for the CPU per request) and {first['seconds']} s "
        "under cProfile (for the shares). Each component is the inclusive time of its entry "
        "points, as a share of the profiled time, scaled to the plain run's CPU per request; "
        "*framework* is the rest (the ↳ rows split part of it by where the code lives, own "
        "time only). Runs: "
        + ", ".join(f"{r['name']} {r['started']} (load {r['load_average_after']})" for r in runs)
        + ". The machine is shared: compare the columns, not absolute figures.",
        "",
        *table(runs),
        "",
        *[line for note in notes for line in (note, "")],
    ]
    (OUT / "inference_profile.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
