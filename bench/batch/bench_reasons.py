"""Reason codes benchmark (batch): rows/s of worker scoring with the reason columns on
(``BATCH_REASONS_TOP_K=4``) vs off (0), side by side in one run.

Not a test. In-process, with the workers' own code: a synthetic Default file is read
once, then each round scores it chunk by chunk (``score_frame``, the function a worker's
chunk task runs, 200,000-row chunks) and writes each chunk's result file with the
workers' write options, once with k = 0 and once with k = 4, alternating which goes
first. The booster uses one thread (one worker of the 2-worker deployment). Rows/s are
totals over the rounds.

    python bench/batch/bench_reasons.py                 # ~1 min
    python bench/batch/bench_reasons.py --rows 200000 --rounds 2

Writes ``bench/results/reasons_batch.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.batch.inputs import default_applicants, one_worker_model  # noqa: E402
from bench.common import write_results  # noqa: E402

CHUNK_ROWS = 200_000
K = 4


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args(argv)


def score_all(model: Any, frame: Any, k: int, out: Path) -> float:
    """Seconds to score ``frame`` chunk by chunk and write every chunk's result file."""
    from services.batch.state.result_files import write_table
    from services.batch.worker.scoring import score_frame

    started = time.perf_counter()
    for n, start in enumerate(range(0, len(frame), CHUNK_ROWS)):
        chunk = frame.iloc[start : start + CHUNK_ROWS]
        write_table(score_frame(model, chunk, start + 1, reasons_k=k), out / f"part-{n}.parquet")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="bench-reasons-batch-") as tmp:
        model = one_worker_model(Path(tmp))
        frame = default_applicants(args.rows)
        seconds: dict[int, list[float]] = {0: [], K: []}
        for i in range(args.rounds):
            for k in (0, K) if i % 2 == 0 else (K, 0):
                out = Path(tmp) / f"round-{i}-k{k}"
                out.mkdir()
                seconds[k].append(score_all(model, frame, k, out))
                print(f"round {i} k={k}: {seconds[k][-1]:.2f} s", flush=True)
    rate = {k: args.rows * args.rounds / sum(s) for k, s in seconds.items()}
    ratio = rate[K] / rate[0]
    rows: list[dict[str, Any]] = [
        {
            "reasons": "off (k=0)",
            "rows": args.rows,
            "rows_per_s": round(rate[0]),
            "vs_off": "100%",
            "round_seconds": [round(s, 2) for s in seconds[0]],
        },
        {
            "reasons": f"on (k={K})",
            "rows": args.rows,
            "rows_per_s": round(rate[K]),
            "vs_off": f"{ratio:.0%}",
            "ratio": round(ratio, 3),
            "round_seconds": [round(s, 2) for s in seconds[K]],
        },
    ]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    notes = (
        f"In-process worker scoring (`score_frame` + result file write, {CHUNK_ROWS:,}-row "
        f"chunks, 1 booster thread) of {args.rows:,} synthetic Default rows, {args.rounds} "
        f"interleaved rounds per setting. Reasons on adds reason_1..{K} with _feature and "
        f"_contribution columns (exact TreeSHAP). Load average after: {load}; wall "
        f"{time.time() - started:.0f} s."
    )
    columns = ["reasons", "rows", "rows_per_s", "vs_off", "round_seconds"]
    path = write_results("reasons_batch", rows, columns, notes)
    print(f"wrote {path} and its JSON")
    return 0


if __name__ == "__main__":
    sys.exit(main())
