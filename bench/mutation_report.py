"""Per-module mutation testing report from ``mutmut results --all true`` on stdin.

    python -m mutmut results --all true | python bench/mutation_report.py [--merge RUN] [NOTE ...]

Writes ``bench/results/mutation.json`` and ``.md``: mutants, killed, survived, timeouts
and the rest (no tests, suspicious, skipped) per module, and the killed share — killed and
timed-out mutants count as caught, the way mutmut scores them.

``--merge RUN``: a run of some modules only (``mutmut run "module.*"``): a module's row
is replaced when this run ran at least as many of its mutants as the row's run did
(labelled ``RUN``, ``RUN, partial`` if some were not run); every other row is kept as it
was, with the label of the run it came from.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import RESULTS, write_results

# mutant names: <module>.x_<function>__mutmut_<n> or <module>.xǁ<Class>ǁ<method>__mutmut_<n>
MUTANT = re.compile(r"^(?P<module>[\w.]+?)\.x(?:_|ǁ)\S*__mutmut_\d+$")
CAUGHT = ("killed", "timeout")
NOT_RUN = "not checked"  # an interrupted run: mutants generated, never run
COUNTS = ("mutants", "not_run", "killed", "timeout", "survived", "no_tests", "other")
EQUIVALENT = "mutation-equivalent.md"  # the survivors judged equivalent, and why


def tally(lines: Iterable[str]) -> dict[str, Counter[str]]:
    """module → status counts, from ``mutmut results`` lines (``name: status``)."""
    per_module: dict[str, Counter[str]] = defaultdict(Counter)
    for line in lines:
        name, sep, status = line.strip().rpartition(": ")
        match = MUTANT.match(name) if sep else None
        if match:
            per_module[match["module"]][status.strip()] += 1
    return dict(per_module)


def rows(per_module: dict[str, Counter[str]]) -> list[dict[str, Any]]:
    def row(module: str, counts: Counter[str]) -> dict[str, Any]:
        total = sum(counts.values())
        run = total - counts[NOT_RUN]
        caught = sum(counts[s] for s in CAUGHT)
        return {
            "module": module,
            "mutants": total,
            "not_run": counts[NOT_RUN],
            "killed": counts["killed"],
            "timeout": counts["timeout"],
            "survived": counts["survived"],
            "no_tests": counts["no tests"],
            "other": run - caught - counts["survived"] - counts["no tests"],
            "caught": f"{caught / run:.1%}" if run else "-",
        }

    out = [row(m, c) for m, c in sorted(per_module.items())]
    overall: Counter[str] = Counter()
    for counts in per_module.values():
        overall.update(counts)
    out.append(row("**all**", overall))
    return out


def total(table: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``**all**`` row of module rows (whatever run each came from)."""
    sums = {key: sum(int(r[key]) for r in table) for key in COUNTS}
    run = sums["mutants"] - sums["not_run"]
    caught = sums["killed"] + sums["timeout"]
    return {"module": "**all**", **sums, "caught": f"{caught / run:.1%}" if run else "-"}


def merge(
    previous: list[dict[str, Any]], current: list[dict[str, Any]], run: str
) -> list[dict[str, Any]]:
    """``previous`` module rows, each replaced by its ``current`` row when this run ran
    every mutant of the module (fewer than before when the module shrank) or at least as
    many as before (labelled ``run``, and ``partial`` when some were not run); the
    ``**all**`` row recomputed over the result."""
    by_module = {r["module"]: r for r in previous if r["module"] != "**all**"}
    for row in current:
        if row["module"] == "**all**":
            continue
        done = row["mutants"] - row["not_run"]
        before = by_module.get(row["module"])
        whole = done and not row["not_run"]
        if before is not None and not whole and done < before["mutants"] - before["not_run"]:
            continue
        label = (run + (", partial" if row["not_run"] else "")) if done else "-"
        by_module[row["module"]] = {**row, "run": label}
    table = [by_module[m] for m in sorted(by_module)]
    return [*table, total(table)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merge", metavar="RUN", help="label of a partial run to merge")
    parser.add_argument("note", nargs="*", help="how this run was made (before the table)")
    args = parser.parse_args(argv)
    extra = " ".join(args.note)
    per_module = tally(sys.stdin)
    if not per_module:
        print("no mutants in the input: run `make mutate` first", file=sys.stderr)
        return 1
    table = rows(per_module)
    if args.merge:
        previous = json.loads((RESULTS / "mutation.json").read_text())["rows"]
        table = merge(previous, table, args.merge)
    not_run = table[-1]["not_run"]
    partial = (
        f"**PARTIAL run: {not_run:,} of {table[-1]['mutants']:,} mutants were never run** "
        "(the run was stopped; `make mutate` resumes it). "
        if not_run
        else ""
    )
    notes = (
        f"{partial}mutmut 3 on the modules of pyproject's [tool.mutmut] (`make mutate`), each "
        "mutant run against the unit tests that reached its function. caught = (killed + "
        "timeout) / mutants run; no_tests = no unit test reaches the function (integration-"
        "only code: batch state in Redis, the worker loop); other = suspicious or skipped. "
        "Target (issue 21): ≥ 90 % caught." + (f" {extra}" if extra else "")
    )
    columns = [
        "module",
        *(["run"] if any("run" in r for r in table) else []),
        "mutants",
        "not_run",
        "killed",
        "timeout",
        "survived",
        "no_tests",
        "other",
        "caught",
    ]
    after = (
        f"Survivors judged equivalent (no test can tell them apart), with why: {EQUIVALENT}."
        if (RESULTS / EQUIVALENT).exists()
        else ""
    )
    path = write_results("mutation", table, columns, notes, after)
    print(f"wrote {path} and its JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
