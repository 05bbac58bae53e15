"""Helpers shared by the benchmarks: machine facts and writing JSON + markdown results."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    import psutil
    import xgboost

    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "xgboost": xgboost.__version__,
        "platform": platform.platform(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_results(
    name: str, rows: list[dict[str, Any]], columns: list[str], notes: str = "", after: str = ""
) -> Path:
    """Write ``results/<name>.json`` and ``results/<name>.md`` (one table; ``after``:
    markdown below it)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps({"machine": machine(), "rows": rows}, indent=1)
    )
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    tail = f"\n\n{after.strip()}" if after.strip() else ""
    text = f"# {name}\n\n{notes}\n\n" + "\n".join(lines) + tail + f"\n\nmachine: {machine()}\n"
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path
