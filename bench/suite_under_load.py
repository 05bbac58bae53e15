"""The whole test suite run several times in a row beside CPU-heavy processes (issue 21).

A suite that synchronises on events and states, never on sleeps, passes as well on a
loaded machine as on a quiet one. This runs ``pytest`` ``--runs`` times in a row while
``--hogs`` busy-loop processes (one core each, normal priority) compete for the CPU, and
records each run: exit status, passed / failed / errors, wall time and the failing tests'
ids. The hogs' CPU seconds are reported too, so the table shows they really ran hot.

Run: ``python bench/suite_under_load.py [--runs 3] [--hogs 1] [-- PYTEST ARGS]``
(``make test-under-load``; results in ``bench/results/suite_under_load.{json,md}``).
Exit status: 0 when every run passed, else 1.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402

DEFAULT_PYTEST = ["-p", "no:cacheprovider", "-q", "-rfE"]
HOG = "while True:\n    pass\n"
COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)")
FAILED = re.compile(r"^(FAILED|ERROR) (\S+)", re.MULTILINE)
COLUMNS = ["run", "started", "status", "passed", "failed", "errors", "wall_s", "hog_cpu_s"]


@dataclass
class Run:
    run: int
    started: str
    status: int
    passed: int
    failed: int
    errors: int
    wall_s: float
    hog_cpu_s: float
    failures: list[str] = field(default_factory=list)


def tally(output: str) -> dict[str, int]:
    """The counts of pytest's last summary line (``== 3 passed, 1 failed in 5s ==``)."""
    summary = next((line for line in reversed(output.splitlines()) if COUNT.search(line)), "")
    counts = {"passed": 0, "failed": 0, "errors": 0}
    for number, word in COUNT.findall(summary):
        key = "errors" if word.startswith("error") else word
        if key in counts:
            counts[key] = int(number)
    return counts


def failures(output: str) -> list[str]:
    """The ids of the failed and erroring tests, from ``-rfE``'s short summary."""
    return [f"{kind} {test}" for kind, test in FAILED.findall(output)]


def start_hogs(count: int) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(count)]


def hog_cpu(hogs: list[subprocess.Popen[bytes]]) -> float:
    total = 0.0
    for hog in hogs:
        try:
            times = psutil.Process(hog.pid).cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def stop(hogs: list[subprocess.Popen[bytes]]) -> None:
    for hog in hogs:
        hog.kill()
    for hog in hogs:
        hog.wait(timeout=10)


def run_once(index: int, pytest_args: list[str], hogs: list[subprocess.Popen[bytes]]) -> Run:
    started = datetime.now(UTC)
    cpu_before, clock = hog_cpu(hogs), time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    wall = time.monotonic() - clock
    print(proc.stdout[-4000:], flush=True)
    counts = tally(proc.stdout)
    return Run(
        run=index,
        started=started.strftime("%Y-%m-%d %H:%M UTC"),
        status=proc.returncode,
        wall_s=round(wall, 1),
        hog_cpu_s=round(hog_cpu(hogs) - cpu_before, 1),
        failures=failures(proc.stdout),
        **counts,
    )


def commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    )
    return done.stdout.strip() or "unknown"


def report(runs: list[Run], hogs: int, pytest_args: list[str]) -> Path:
    green = sum(r.status == 0 for r in runs)
    notes = (
        f"On commit {commit()}: "
        f"`pytest {' '.join(pytest_args)}` run {len(runs)} time(s) in a row beside {hogs} "
        f"busy-loop process(es) (one core each, normal priority; `hog_cpu_s`: their CPU "
        f"seconds during the run). **{green} of {len(runs)} run(s) passed.**"
    )
    failing = [f"- run {r.run}: {f}" for r in runs for f in r.failures]
    after = "Failing tests:\n\n" + "\n".join(failing) if failing else ""
    rows = [asdict(r) for r in runs]  # the JSON keeps each run's failing tests too
    return write_results("suite_under_load", rows, COLUMNS, notes, after)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hogs", type=int, default=1, help="busy-loop processes beside")
    parser.add_argument("pytest_args", nargs="*", help="after --: pytest's arguments")
    args = parser.parse_args(argv)
    pytest_args = args.pytest_args or DEFAULT_PYTEST
    hogs = start_hogs(args.hogs)
    runs: list[Run] = []
    try:
        for index in range(1, args.runs + 1):
            runs.append(run_once(index, pytest_args, hogs))
            report(runs, args.hogs, pytest_args)  # kept after every run
    finally:
        stop(hogs)
    print(report(runs, args.hogs, pytest_args).read_text())
    return 0 if all(r.status == 0 for r in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
