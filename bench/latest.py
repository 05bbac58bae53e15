"""`bench/results/latest.md`: the headline figure of every benchmark in one table, with
the machine facts. Reads the JSON each benchmark wrote (``make bench`` runs them all
first); each row says when its benchmark ran, since one can be re-run alone.

Run: ``python bench/latest.py``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, machine

Row = tuple[str, str, str, str, str]  # benchmark, measure, figure, target, ran
Json = dict[str, Any]


def _load(name: str) -> Json | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _ran(data: Json) -> str:
    stamp = str((data.get("machine") or data.get("meta") or {}).get("date", ""))
    return stamp[:16].replace("T", " ") or str(data.get("meta", {}).get("started", ""))[:16]


def _mark(ok: bool) -> str:
    return "✔" if ok else "✘"


def training(data: Json) -> Iterator[Row]:
    ran = _ran(data)
    rows = {r["case"]: r for r in data["rows"]}
    base = rows.get("bundled-10k")
    big = rows.get("synthetic-1M")
    for case, r in rows.items():
        figure = f"{r['seconds']} s, peak RSS {r['peak_rss_mib']} MiB, ROC-AUC {r['roc_auc']}"
        yield "training", case, figure, "", ran
    if base and big:
        ratio = big["seconds"] / base["seconds"]
        yield "training", "1M vs 10k rows: time", f"{ratio:.0f}× for 100× rows", "", ran


def quality(data: Json) -> Iterator[Row]:
    for r in data["rows"]:
        bar = float(str(r["target"]).lstrip(">= "))
        figure = f"ROC-AUC {r['roc_auc']} (PR-AUC {r['pr_auc']}, KS {r['ks']})"
        target = f"{r['target']} {_mark(r['roc_auc'] >= bar)}"
        yield "model quality (holdout)", r["dataset"], figure, target, _ran(data)


def inference(data: Json) -> Iterator[Row]:
    ran = str(data["meta"].get("started", ""))[:16]
    for r in data["comparison"]:
        if r["concurrency"] != 64 or r["endpoint"] != "predict":
            continue
        figure = (
            f"{r['full_rps']:,.0f} vs {r['bare_rps']:,.0f} req/s = {r['rps_ratio']:.2f}; "
            f"p99 {r['full_p99_ms']} vs {r['bare_p99_ms']} ms"
        )
        ok = r["rps_ratio"] >= 0.7 and r["p99_ratio"] <= 2
        measure = f"{r['dataset']}: full service vs bare app, c=64"
        yield "inference", measure, figure, f"≥ 0.70, p99 ≤ 2× {_mark(ok)}", ran
    peer = data["meta"].get("peer", {})
    for r in data.get("peers", []):
        if r["endpoint"] != "predict" or r["concurrency"] not in (1, 64):
            continue
        who = f"{peer.get('name', 'MLServer')} {peer.get('version', '')}".strip()
        if r["concurrency"] == 64:
            figure = (
                f"{r['full_rps']:,.0f} vs {r['mlserver_rps']:,.0f} req/s = "
                f"{r['full_over_mlserver']}×; p99 {r['full_p99_ms']} vs {r['mlserver_p99_ms']} ms"
            )
            ok = all(r["targets"].values())
            measure = f"{r['dataset']}: full service vs {who}, c=64"
            yield "inference", measure, figure, f"≥ 3×, p99 ≤ ½ {_mark(ok)}", ran
        else:
            figure = f"p50 {r['full_p50_ms']} vs bare {r['bare_p50_ms']} ms"
            ok = all(r["targets"].values())
            measure = f"{r['dataset']}: full service single-row p50, c=1"
            yield "inference", measure, figure, f"≤ bare {_mark(ok)}", ran


def decisions(data: Json) -> Iterator[Row]:
    ran = _ran(data)
    sbs, sus = data["side_by_side"], data["sustained"]
    target = float(data["meta"]["target_ratio"])
    figure = f"{sbs['on']['rps']} vs {sbs['off']['rps']} req/s = {sbs['ratio_rps']}"
    ok = sbs["ratio_rps"] >= target
    yield "decision record", "/predict c=64 record on/off", figure, f"≥ {target} {_mark(ok)}", ran
    steady = sus["max_spool_bytes"] == 0 and sus["lost"] == 0 and sus["all_recorded"]
    figure = (
        f"{sus['seconds']} s at {sus['rps']} req/s: {sus['recorded']} recorded, spool max "
        f"{sus['max_spool_bytes']:.0f} B, lost {sus['lost']:.0f}"
    )
    flat = f"spool flat {_mark(steady)}"
    yield "decision record", "sustained writes at capacity", figure, flat, ran


def batch(data: Json) -> Iterator[Row]:
    ran = _ran(data)
    targets = {(1_000_000, "1 worker"): 50, (10_000_000, "2 workers"): 90}
    for r in data["rows"]:
        bar = targets.get((r["rows"], r["mode"]))
        if bar is None:
            continue
        share = int(str(r["vs_in_process"]).rstrip("%"))
        figure = f"{r['vs_in_process']} of in-process, worker RSS {max(r['peak_rss_mib'])} MiB"
        target = f"≥ {bar} % {_mark(share >= bar)}"
        yield "batch", f"{r['rows']:,} rows, {r['mode']}", figure, target, ran


def batch_peers(data: Json) -> Iterator[Row]:
    ours, dask = data["rows"][0], data["rows"][1]
    rss = max(ours["peak_rss_mib"])
    figure = (
        f"{ours['rows_per_s']:,} vs {dask['rows_per_s']:,} rows/s = {ours['vs_dask']:.2f}× "
        f"{dask['version']}; worker RSS {rss} MiB (Dask {max(dask['peak_rss_mib'])} MiB); "
        f"outputs equal ({ours['outputs_equal']})"
    )
    if "writes" in ours:
        figure += f"; ours writes {ours['writes']}, Dask {dask['writes']}"
    target = f"≥ 1.00× {_mark(ours['vs_dask'] >= 1)}, RSS ≤ 600 MiB {_mark(rss <= 600)}"
    measure = (
        f"{ours['rows']:,} rows in {ours['chunks']} chunks, job API 2 workers vs "
        f"{dask.get('side', 'Dask threaded (2 threads)')}"
    )
    yield "batch vs peer", measure, figure, target, _ran(data)


def reasons_inference(data: Json) -> Iterator[Row]:
    for r in data["rows"]:
        figure = (
            f"{r['explain_rps']:,.0f} vs {r['off_rps']:,.0f} req/s = {r['explain_vs_off']:.2f}; "
            f"CPU/req {r['explain_cpu_us_per_req']:,.0f} vs {r['off_cpu_us_per_req']:,.0f} µs"
        )
        measure = f"{r['dataset']}: /predict ?explain=true vs reasons off, c={r['concurrency']}"
        ok = r["explain_vs_off"] >= 0.7
        yield "reason codes", measure, figure, f"≥ 0.70 {_mark(ok)}", _ran(data)


def paired(data: Json) -> Iterator[Row]:
    for r in data["rows"]:
        figure = (
            f"{r['paired_rps']:,.0f} vs {r['plain_rps']:,.0f} req/s = {r['paired_vs_plain']:.2f}; "
            f"+{r['extra_cpu_us_per_req']:,.0f} µs CPU/req"
        )
        rows = "1,000-row bulk" if r["rows_per_request"] > 1 else "/predict"
        measure = f"{rows} with a baseline model vs without, c={r['concurrency']}"
        target = f"≥ 0.70 {_mark(r['paired_vs_plain'] >= 0.7)}" if r.get("target") else ""
        yield "paired scoring", measure, figure, target, _ran(data)


def reasons_batch(data: Json) -> Iterator[Row]:
    on = next(r for r in data["rows"] if "ratio" in r)
    off = next(r for r in data["rows"] if "ratio" not in r)
    figure = f"{on['rows_per_s']:,} vs {off['rows_per_s']:,} rows/s = {on['ratio']:.2f}"
    measure = f"batch scoring {on['rows']:,} rows, {on['reasons']} vs off"
    yield "reason codes", measure, figure, "", _ran(data)


def records_batch(data: Json) -> Iterator[Row]:
    for r in data["rows"]:
        if r["setting"] == "off":
            continue
        measure = f"batch run_chunk {r['rows']:,} rows, {r['setting']} vs off"
        figure = f"{r['rows_per_s']:,} rows/s = {r['ratio']:.3f} of off"
        target = f"≥ 0.50 {_mark(r['ratio'] >= 0.5)}" if "record" in r["setting"] else ""
        yield "decision record", measure, figure, target, _ran(data)


def controller(data: Json) -> Iterator[Row]:
    r = data["rows"][0]
    figure = (
        f"{r['cpu_ms_per_reconcile']} ms CPU/reconcile, "
        f"{r['api_requests_per_step']} API requests/step, all promoted in {r['wall_s']} s"
    )
    yield "controller", f"{r['rollouts']} rollouts in flight", figure, "", _ran(data)


def controller_scale(data: Json) -> Iterator[Row]:
    """Issue 19's targets at 1,000 rollouts: p99 < 1 s, RSS < 500 MB, 0 wrong verdicts,
    rollback reaction ≤ 1 analysis interval (10 s unless the row says)."""
    for r in data["rows"]:
        p99, rss, wrong = r["reconcile_p99_ms"], r["rss_peak_mb"], r["wrong_verdicts"]
        reaction, interval = r["rollback_reaction_p99_s"], r.get("interval_s", 10.0)
        figure = (
            f"reconcile p99 {p99 / 1000:.2f} s, RSS {rss:.0f} MB, {wrong} wrong, "
            f"rollback reaction p99 {reaction:.0f} s"
        )
        if "idle_ticks" in r:
            figure += f", {r['idle_ticks']} idle ticks of finished rollouts skipped"
        target = ""
        if r["rollouts"] >= 1000:
            ok = p99 < 1000 and rss < 500 and wrong == 0 and reaction <= interval
            target = f"p99 < 1 s, RSS < 500 MB, 0 wrong, reaction ≤ {interval:g} s {_mark(ok)}"
        yield (
            "controller at scale",
            f"{r['rollouts']} rollouts, real Prometheus",
            figure,
            target,
            str(r.get("ran") or _ran(data))[:16],  # a row can be older than the file
        )


def shadow_mirror(data: Json) -> Iterator[Row]:
    """Issue 18: stable req/s at c=64 through a real proxy (Traefik) mirroring 100 %."""
    by = {r["config"]: r for r in data["rows"]}
    plain, mirror = by["plain"], by["mirror"]
    figure = (
        f"{mirror['rps']:,.0f} vs {plain['rps']:,.0f} req/s = "
        f"{mirror['rps'] / plain['rps']:.2f} (canary on the proxy's core); proxy CPU "
        f"{mirror['proxy_cpu_us_per_req']:.0f} vs {plain['proxy_cpu_us_per_req']:.0f} µs/req"
    )
    yield "shadow mirror", "stable /predict c=64, Traefik mirroring 100 %", figure, "", _ran(data)
    sink = _load("shadow_mirror_sink")
    if sink is not None:
        by = {r["config"]: r for r in sink["rows"]}
        ratio = by["mirror"]["rps"] / by["plain"]["rps"]
        figure = (
            f"{by['mirror']['rps']:,.0f} vs {by['plain']['rps']:,.0f} req/s = {ratio:.2f}, "
            f"p99 {by['mirror']['p99_ms']:.0f} vs {by['plain']['p99_ms']:.0f} ms"
        )
        measure = "same, canary a sink (scoring off the proxy's core)"
        yield "shadow mirror", measure, figure, "unchanged (mirror)", _ran(sink)


def rollout(data: Json) -> Iterator[Row]:
    wanted = {
        "fault serving → rollback completed (s)": "rollback reaction",
        "apply → promoted (s)": "apply → promoted",
        "failed requests during the rollback": "failed requests, rollback",
        "failed requests during the promotion": "failed requests, promotion",
        # --shadow runs (issue 18)
        "shadow phase (s)": "shadow phase length",
        "apply → rollback completed (s)": "flipping candidate: apply → rolled back in shadow",
        "applicant requests answered by the canary": "flipping candidate: applicants it answered",
        "stable failed requests, while shadowing": "failed requests, stable while shadowing",
    }
    for r in data["rows"]:
        label = wanted.get(r["metric"])
        if r["metric"] == "apply → Succeeded (s)":  # healthy candidate, with/without shadow
            label = f"apply → promoted, {r['run'].rpartition(', ')[2]}"
        if label:
            unit = " s" if r["metric"].endswith("(s)") else ""
            yield "rollout loop", label, f"{r['value']}{unit}", str(r["target"]), _ran(data)


def controlplane(data: Json) -> Iterator[Row]:
    cold = sum(data["cold"]["binaries"].values())
    warm = sum(data["warm"]["binaries"].values())
    ran = str(data["cold"]["at"])[:16].replace("T", " ")
    figure = f"cold {cold:.0f} s, warm relink {warm:.0f} s (4 binaries, 2 cores)"
    yield (
        "control plane build",
        "kube-apiserver, -controller-manager, -scheduler, kwok",
        figure,
        "",
        ran,
    )


def containers(data: Json) -> Iterator[Row]:
    ran = _ran(data)
    for r in data["rows"]:
        if r.get("size_mb"):
            bar = str(r.get("target") or "")
            ok = not bar or r["size_mb"] <= int(bar.strip("≤ MB"))
            figure = f"{r['size_mb']} MB (was {r['before_mb']} MB)"
            yield "containers", r["service"], figure, f"{bar} {_mark(ok)}" if bar else "", ran
        elif r["how"] == "container":
            process = next(
                (p for p in data["rows"] if p["service"] == r["service"] and p["how"] == "process"),
                None,
            )
            figure = f"median {r['median_s']} s, max {r['max_s']} s in a container"
            if process:
                figure += f" (process: median {process['median_s']} s, max {process['max_s']} s)"
            target = str(r.get("target") or "")
            if target:
                target = f"{target} {_mark(r['median_s'] <= 2.5)}"
            yield "containers", f"{r['service']} cold start → /readyz", figure, target, ran


def kind(data: Json) -> Iterator[Row]:
    """Issue 14: the offline kind cluster (bench/kind/bench_kind.py)."""
    shown = (
        "cluster create → first prediction (s)",
        "pytest -m kind (s)",
        "apply → promoted (s)",
        "apply faulty → rolled back (s)",
        "first failed analysis → rolled back (s)",
        "whole make test-kind (s)",
    )
    for r in data["rows"]:
        if r["metric"] in shown:
            local = f" (local harness: {r['local harness']} s)" if r.get("local harness") else ""
            yield (
                "kind (offline, real kubelets)",
                r["metric"].removesuffix(" (s)"),
                f"{r['kind']} s{local}",
                "",
                _ran(data),
            )


SECTIONS: list[tuple[str, Callable[[Json], Iterator[Row]]]] = [
    ("training", training),
    ("training_quality", quality),
    ("inference", inference),
    ("decisions", decisions),
    ("batch", batch),
    ("batch_peers", batch_peers),
    ("batch_peers_500k", batch_peers),
    ("reasons_inference", reasons_inference),
    ("reasons_batch", reasons_batch),
    ("paired", paired),
    ("records_batch", records_batch),
    ("controller_reconcile", controller),
    ("controller_scale", controller_scale),
    ("rollout", rollout),
    ("shadow_mirror", shadow_mirror),
    ("controlplane_build", controlplane),
    ("containers", containers),
    ("kind", kind),
]


def table() -> tuple[list[Row], list[str]]:
    rows: list[Row] = []
    missing: list[str] = []
    for name, extract in SECTIONS:
        data = _load(name)
        if data is None:
            missing.append(name)
            continue
        rows.extend(extract(data))
    return rows, missing


def render(rows: list[Row], missing: list[str], facts: Json) -> str:
    lines = [
        "# Benchmarks — latest figures",
        "",
        "Written by `python bench/latest.py` (the last step of `make bench`) from the JSON",
        "each benchmark left in `bench/results/`; the per-benchmark `.md` files have the",
        "full tables and method notes. Ratios are measured side by side in one run.",
        "",
        "| benchmark | measure | figure | target | ran (UTC) |",
        "|---|---|---|---|---|",
        *(f"| {' | '.join(row)} |" for row in rows),
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in facts.items()),
    ]
    if missing:
        lines += ["", "Not run yet: " + ", ".join(missing)]
    return "\n".join(lines) + "\n"


def main() -> int:
    facts = machine()
    facts["load_average"] = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    rows, missing = table()
    path = RESULTS / "latest.md"
    path.write_text(render(rows, missing, facts))
    print(path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
