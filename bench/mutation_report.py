"""Per-module mutation testing report from ``mutmut results --all true`` on stdin.

    python -m mutmut results --all true | python bench/mutation_report.py [NOTE ...]

Writes ``bench/results/mutation.json`` and ``.md``: mutants, killed, survived, timeouts
and the rest (no tests, suspicious, skipped) per module, and the killed share — killed and
timed-out mutants count as caught, the way mutmut scores them.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_results

# mutant names: <module>.x_<function>__mutmut_<n> or <module>.xǁ<Class>ǁ<method>__mutmut_<n>
MUTANT = re.compile(r"^(?P<module>[\w.]+?)\.x(?:_|ǁ)\S*__mutmut_\d+$")
CAUGHT = ("killed", "timeout")
NOT_RUN = "not checked"  # an interrupted run: mutants generated, never run


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


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    extra = " ".join(args)  # a note on how this run was made, put before the table
    per_module = tally(sys.stdin)
    if not per_module:
        print("no mutants in the input: run `make mutate` first", file=sys.stderr)
        return 1
    table = rows(per_module)
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
        "mutants",
        "not_run",
        "killed",
        "timeout",
        "survived",
        "no_tests",
        "other",
        "caught",
    ]
    path = write_results("mutation", table, columns, notes)
    print(f"wrote {path} and its JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
