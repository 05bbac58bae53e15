"""Write the benchmark rows as JSON and as a markdown table with full/bare ratios."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGET = "target at concurrency 64: full ≥ 70 % of bare req/s and full p99 ≤ 2 × bare p99"


def pairs(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One comparison per (dataset, endpoint, concurrency): bare vs full."""
    index = {(r["dataset"], r["endpoint"], r["concurrency"], r["app"]): r for r in rows}
    out = []
    for (dataset, endpoint, conc, app), bare in index.items():
        full = index.get((dataset, endpoint, conc, "full"))
        if app != "bare" or full is None:
            continue
        out.append(
            {
                "dataset": dataset,
                "endpoint": endpoint,
                "concurrency": conc,
                "bare_rps": bare["rps"],
                "full_rps": full["rps"],
                "rps_ratio": round(full["rps"] / bare["rps"], 3) if bare["rps"] else None,
                "bare_p50_ms": bare["p50_ms"],
                "full_p50_ms": full["p50_ms"],
                "bare_p99_ms": bare["p99_ms"],
                "full_p99_ms": full["p99_ms"],
                "p99_ratio": round(full["p99_ms"] / bare["p99_ms"], 2) if bare["p99_ms"] else None,
                "bare_cpu_us": bare["server_cpu_us_per_req"],
                "full_cpu_us": full["server_cpu_us_per_req"],
                "cpu_ratio": round(bare["server_cpu_us_per_req"] / full["server_cpu_us_per_req"], 3)
                if full["server_cpu_us_per_req"]
                else None,
                "errors": bare["non_2xx"]
                + bare["socket_errors"]
                + full["non_2xx"]
                + full["socket_errors"],
            }
        )
    return out


def verdict(row: dict[str, Any]) -> str:
    if row["endpoint"] != "predict" or row["concurrency"] != 64:
        return ""
    ok = (row["rps_ratio"] or 0) >= 0.7 and (row["p99_ratio"] or 99) <= 2.0
    return "✅" if ok else "❌"


def write_report(out: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table = pairs(rows)
    (out / "inference.json").write_text(
        json.dumps({"meta": meta, "target": TARGET, "comparison": table, "raw": rows}, indent=1)
        + "\n"
    )
    lines = [
        "# Inference benchmark: full service vs bare FastAPI app",
        "",
        f"{meta['started']}: {meta['seconds_per_point']} s per app and point in "
        f"{meta['rounds']} interleaved rounds; 1 uvicorn worker pinned to core "
        f"{meta['server_core']}, wrk pinned to core {meta['client_core']} ({meta['cpus']} CPUs, "
        f"shared with other work, load average {meta['load_average_after']} at the end: "
        f"compare ratios, not absolute figures). {TARGET}. *CPU ratio* = bare ÷ full server "
        "CPU time per request (capacity on a dedicated core; the least noisy figure).",
        "",
        "| dataset | endpoint | conc. | bare req/s | full req/s | ratio | bare p50 ms | "
        "full p50 ms | bare p99 ms | full p99 ms | p99 ratio | bare / full CPU µs/req | "
        "CPU ratio | errors | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|",
    ]
    for r in table:
        lines.append(
            f"| {r['dataset']} | {r['endpoint']} | {r['concurrency']} | {r['bare_rps']:.0f} | "
            f"{r['full_rps']:.0f} | {r['rps_ratio']:.2f} | {r['bare_p50_ms']} | "
            f"{r['full_p50_ms']} | {r['bare_p99_ms']} | {r['full_p99_ms']} | "
            f"{r['p99_ratio']} | {r['bare_cpu_us']:.0f} / {r['full_cpu_us']:.0f} | "
            f"{r['cpu_ratio']:.2f} | {r['errors']} | {verdict(r)} |"
        )
    lines += ["", "Bulk rows are requests of 1,000 applicants (req/s × 1,000 = rows/s).", ""]
    (out / "inference.md").write_text("\n".join(lines))
