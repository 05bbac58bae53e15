"""The coverage table of ``make coverage``: per package, from the combined data file.

Reads the data ``coverage combine`` wrote (test process plus every Python process the
tests started), counts every ``.py`` file under ``services/`` and ``controller/`` (a module
no test imported counts with all its statements missed, and any file missing from the
report fails the run), and writes ``bench/results/coverage.json`` and ``coverage.md``: one
row per package (each folder of modules, and each service as a whole), the modules below
the bar, and what the run covered (the pytest arguments, a full or partial run, how many
processes' data were combined).

Run: ``python scripts/coverage_report.py --data .cache/coverage/data --scope "..."``
(``make coverage`` does).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import coverage

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("services", "controller")
SERVICES = ("services/core", "services/inference", "services/batch", "services/trainer")
BAR = 80.0  # percent: the "no important module below 80 %"
RESULTS = ROOT / "bench" / "results"


@dataclass
class Tally:
    statements: int = 0
    missed: int = 0
    modules: list[str] = field(default_factory=list)

    def add(self, path: str, statements: int, missed: int) -> None:
        self.statements += statements
        self.missed += missed
        self.modules.append(path)

    @property
    def percent(self) -> float:
        covered = self.statements - self.missed
        return round(100.0 * covered / self.statements, 1) if self.statements else 100.0


def source_files() -> list[str]:
    """Every module of the product, relative to the repository root."""
    return sorted(
        str(p.relative_to(ROOT))
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if "__pycache__" not in p.parts
    )


def measured(data_file: Path) -> dict[str, tuple[int, int]]:
    """(statements, missed) per module, from coverage's JSON report of ``data_file``."""
    cov = coverage.Coverage(data_file=str(data_file), config_file=str(ROOT / "pyproject.toml"))
    cov.load()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        cov.json_report(outfile=str(out), ignore_errors=True)
        files = json.loads(out.read_text())["files"]
    found = {}
    for name, entry in files.items():
        path = Path(name)
        relative = path.relative_to(ROOT) if path.is_absolute() else path
        summary = entry["summary"]
        found[str(relative)] = (int(summary["num_statements"]), int(summary["missing_lines"]))
    return found


def package_of(module: str) -> str:
    return str(Path(module).parent)


def service_of(module: str) -> str:
    return next((s for s in SERVICES if module.startswith(s + "/")), module.split("/")[0])


def row(name: str, t: Tally) -> dict[str, Any]:
    return {
        "package": name,
        "modules": len(t.modules),
        "statements": t.statements,
        "missed": t.missed,
        "percent": t.percent,
    }


def tables(per_module: dict[str, tuple[int, int]]) -> dict[str, Any]:
    packages: dict[str, Tally] = defaultdict(Tally)
    services: dict[str, Tally] = defaultdict(Tally)
    total = Tally()
    for module, (statements, missed) in sorted(per_module.items()):
        for tally in (packages[package_of(module)], services[service_of(module)], total):
            tally.add(module, statements, missed)
    low = [
        {"module": m, "statements": s, "missed": x, "percent": Tally(s, x).percent}
        for m, (s, x) in sorted(per_module.items())
        if s and Tally(s, x).percent < BAR
    ]
    return {
        "total": row("all", total),
        "services": [row(name, t) for name, t in sorted(services.items())],
        "packages": [row(name, t) for name, t in sorted(packages.items())],
        "below_bar": low,
    }


def markdown(report: dict[str, Any]) -> str:
    run = report["run"]
    lines = [
        "# coverage",
        "",
        f"**Full run** ({run['date']}): {run['scope']}."
        if run["full"]
        else f"**PARTIAL run** ({run['date']}), only `{run['scope']}`: not the figures of "
        "the whole suite (`make coverage` without `COVERAGE_TESTS` measures every tier).",
        f"Data of {run['processes']} processes combined (the pytest process and every Python "
        "process the tests started). Pytest exit status: "
        f"{run['pytest_status']}. Every `.py` under `services/` and `controller/` is counted "
        f"({report['total']['modules']} modules; a module no test imported counts as 0 %).",
        "",
        f"Total: **{report['total']['percent']} %** of {report['total']['statements']} statements.",
        "",
    ]

    def table(title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
        lines.extend([f"## {title}", "", "| " + " | ".join(columns) + " |"])
        lines.append("|---|" + "---:|" * (len(columns) - 1))
        lines.extend("| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows)
        lines.append("")

    per_package = ("package", "modules", "statements", "missed", "percent")

    table("Per service", report["services"], per_package)
    table("Per package", report["packages"], per_package)
    table(f"Modules below {BAR:.0f} %", report["below_bar"], ("module", *per_package[2:]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="combined coverage data file")
    parser.add_argument("--scope", required=True, help="what the run covered (pytest args)")
    parser.add_argument("--full", action="store_true", help="the run covered every tier")
    parser.add_argument("--processes", type=int, default=0, help="data files combined")
    parser.add_argument("--pytest-status", type=int, default=0, help="pytest's exit status")
    parser.add_argument("--name", default="coverage", help="results/<name>.json and .md")
    args = parser.parse_args(argv)
    per_module = measured(args.data)
    sources = source_files()
    missing = sorted(set(sources) - set(per_module))
    unknown = sorted(set(per_module) - set(sources))
    if missing or unknown:
        print(f"not in the report: {missing}; not in the tree: {unknown}", file=sys.stderr)
        return 1
    report = tables(per_module)
    report["run"] = {
        "scope": args.scope,
        "full": args.full,
        "processes": args.processes,
        "pytest_status": args.pytest_status,
        "coverage": coverage.__version__,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(report, indent=1) + "\n")
    (RESULTS / f"{args.name}.md").write_text(markdown(report))
    print(markdown(report).split("## Per package")[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
