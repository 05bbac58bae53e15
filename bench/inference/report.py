"""Write the benchmark rows as JSON and as a markdown table with full/bare ratios."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGET = "target at concurrency 64: full ≥ 70 % of bare req/s and full p99 ≤ 2 × bare p99"
PEER_TARGET = (
    "issue 19 targets (single-row predict): at concurrency 64 full ≥ 3 × MLServer req/s and "
    "full p99 ≤ ½ MLServer's; at concurrency 1 full p50 ≤ bare p50"
)


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


def peer_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (dataset, endpoint, concurrency) that MLServer was measured at: the
    three apps side by side, full ÷ MLServer, and the issue's targets where they apply."""
    index = {(r["dataset"], r["endpoint"], r["concurrency"], r["app"]): r for r in rows}
    out = []
    for (dataset, endpoint, conc, app), peer in index.items():
        full = index.get((dataset, endpoint, conc, "full"))
        bare = index.get((dataset, endpoint, conc, "bare"))
        if app != "mlserver" or full is None or bare is None:
            continue
        line: dict[str, Any] = {"dataset": dataset, "endpoint": endpoint, "concurrency": conc}
        for name, r in (("bare", bare), ("full", full), ("mlserver", peer)):
            line |= {
                f"{name}_rps": r["rps"],
                f"{name}_p50_ms": r["p50_ms"],
                f"{name}_p99_ms": r["p99_ms"],
                f"{name}_cpu_us": r["server_cpu_us_per_req"],
                f"{name}_errors": r["non_2xx"] + r["socket_errors"],
            }
        line["full_over_mlserver"] = round(full["rps"] / peer["rps"], 2) if peer["rps"] else None
        line["targets"] = peer_verdict(line)
        out.append(line)
    return out


def peer_verdict(line: dict[str, Any]) -> dict[str, bool]:
    if line["endpoint"] != "predict":
        return {}
    if line["concurrency"] == 64:
        return {
            "rps_3x_mlserver": (line["full_over_mlserver"] or 0) >= 3.0,
            "p99_half_mlserver": line["full_p99_ms"] <= line["mlserver_p99_ms"] / 2,
        }
    if line["concurrency"] == 1:
        return {"p50_le_bare": line["full_p50_ms"] <= line["bare_p50_ms"]}
    return {}


def peer_lines(table: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
    if not table:
        return []
    peer = meta.get("peer", {})
    diffs = meta.get("peer_max_abs_diff", {})
    agreed = ", ".join(f"{d}: {v:.1e}" for d, v in diffs.items())
    lines = [
        "## Beside the peer: MLServer",
        "",
        f"{peer.get('name', 'MLServer')} {peer.get('version', '?')} "
        f"({peer.get('runtime', '')}, V2 REST, parallel_workers "
        f"{meta.get('mlserver_workers', 0)}, its own venv; xgboost "
        f"{meta.get('xgboost', '?')} in both) serving the same booster file, pinned to the "
        f"same core, measured in the same interleaved rounds. Its probabilities, mapped "
        f"through our calibration, equal ours (largest difference {agreed or 'not checked'}). "
        f"{PEER_TARGET}.",
        "",
        "| dataset | endpoint | conc. | bare req/s | full req/s | MLServer req/s | "
        "full ÷ MLServer | bare / full / MLServer p50 ms | bare / full / MLServer p99 ms | "
        "bare / full / MLServer CPU µs/req | errors | targets |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|",
    ]
    for r in table:
        marks = " ".join(f"{k} {'✅' if ok else '❌'}" for k, ok in r["targets"].items())
        errors = r["bare_errors"] + r["full_errors"] + r["mlserver_errors"]
        lines.append(
            f"| {r['dataset']} | {r['endpoint']} | {r['concurrency']} | {r['bare_rps']:.0f} | "
            f"{r['full_rps']:.0f} | {r['mlserver_rps']:.0f} | {r['full_over_mlserver']} | "
            f"{r['bare_p50_ms']} / {r['full_p50_ms']} / {r['mlserver_p50_ms']} | "
            f"{r['bare_p99_ms']} / {r['full_p99_ms']} / {r['mlserver_p99_ms']} | "
            f"{r['bare_cpu_us']:.0f} / {r['full_cpu_us']:.0f} / {r['mlserver_cpu_us']:.0f} | "
            f"{errors} | {marks} |"
        )
    return [*lines, ""]


def verdict(row: dict[str, Any]) -> str:
    if row["endpoint"] != "predict" or row["concurrency"] != 64:
        return ""
    ok = (row["rps_ratio"] or 0) >= 0.7 and (row["p99_ratio"] or 99) <= 2.0
    return "✅" if ok else "❌"


def write_report(out: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    table, peers = pairs(rows), peer_table(rows)
    document = {
        "meta": meta,
        "target": TARGET,
        "comparison": table,
        "peer_target": PEER_TARGET,
        "peers": peers,
        "raw": rows,
    }
    (out / "inference.json").write_text(json.dumps(document, indent=1) + "\n")
    lines = [
        "# Inference benchmark: full service vs bare FastAPI app and MLServer",
        "",
        f"{meta['started']}: {meta['seconds_per_point']} s per app and point in "
        f"{meta['rounds']} interleaved rounds; 1 uvicorn worker (HTTP parser "
        f"{meta.get('http_parser', 'h11')}, asyncio loop, both apps) pinned to core "
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
    lines += peer_lines(peers, meta)
    (out / "inference.md").write_text("\n".join(lines))
