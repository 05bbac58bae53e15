"""Where a batch chunk's time goes with reasons (k = 4) and the decision record on: a
timeline per 200,000-row chunk (issue 17).

Not a test, not a benchmark table. Synthetic Default chunks go through ``run_chunk``
(``reasons`` and ``reasons + record``, interleaved) with a real PostgreSQL behind the
workers' ``DecisionWriter``; each step is timed where it runs: on the worker's thread
(read, encode, score, summarise, hand-over, result file, wait for the record, rename), on
the encoder thread (the document: ``encode_payload``, of which the Arrow IPC + zstd write)
and on the writer thread (``insert_chunk``: the INSERT and COMMIT, PostgreSQL's time
included). Prints the median of each step's duration and of when it ends (ms from the
chunk's start), so the record's chain (scored -> document -> insert -> rename) can be read
against the worker's own (scored -> result file).

    python bench/batch/profile_record_chain.py [--chunks 12]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

K = 4
DISTINCT = 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=12)
    args = parser.parse_args(argv)

    import pyarrow as pa
    from prometheus_client import CollectorRegistry

    from bench.batch.inputs import chunked_input, one_worker_model
    from services.batch.worker import chunk as chunk_module
    from services.batch.worker import recording
    from services.core.decisions import chunk_codec
    from services.core.decisions.metrics import DecisionMetrics
    from services.core.decisions.settings import DecisionSettings
    from services.core.decisions.store import DecisionStore
    from services.core.decisions.writer import DecisionWriter
    from tests.support.postgres import postgres_server

    spans: list[tuple[str, float, float]] = []  # (step, start, end), perf_counter seconds

    def timed(owner: Any, name: str, label: str) -> None:
        fn = getattr(owner, name)

        def wrapper(*a: Any, **k: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spans.append((label, started, time.perf_counter()))

        setattr(owner, name, wrapper)

    timed(chunk_module, "read_chunk", "worker: read")
    timed(chunk_module, "encode_chunk", "worker: encode (features)")
    timed(chunk_module, "score_grouped", "worker: score (+ reasons)")
    timed(chunk_module, "summarise", "worker: summarise")
    timed(chunk_module, "submit_record", "worker: hand record over")
    timed(chunk_module, "write_result", "worker: result file (staged)")
    timed(recording.PendingRecord, "wait", "worker: wait for the record")
    timed(recording.os, "replace", "worker: rename")
    timed(recording, "chunk_document", "encoder: document (all)")
    timed(chunk_codec, "encode_document", "encoder: encode_payload")
    timed(pa.ipc, "new_stream", "encoder: IPC stream opened")
    timed(DecisionStore, "insert_chunk", "writer: insert_chunk (PostgreSQL)")

    class Timed:  # the IPC writer's write_table + close (the zstd compression), timed
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __enter__(self) -> Timed:
            self.started = time.perf_counter()
            return self

        def __exit__(self, *exc: Any) -> None:
            self.inner.close()
            spans.append(("encoder: IPC write + zstd", self.started, time.perf_counter()))

        def write_table(self, table: Any) -> None:
            self.inner.write_table(table)

    opener = pa.ipc.new_stream
    chunk_codec.pa.ipc.new_stream = lambda *a, **k: Timed(opener(*a, **k))  # type: ignore[assignment]

    settings_order = [("reasons", False), ("reasons + record", True)]
    per: dict[str, dict[str, list[tuple[float, float]]]] = {
        s: defaultdict(list) for s, _ in settings_order
    }
    total: dict[str, list[float]] = defaultdict(list)
    with (
        tempfile.TemporaryDirectory(prefix="profile-record-chain-") as tmp,
        postgres_server() as pg,
    ):
        work = Path(tmp)
        model = one_worker_model(work)
        spec = chunked_input(work, DISTINCT)
        settings = DecisionSettings(dsn=pg.dsn, spool_dir=work / "spool")
        writer = DecisionWriter(settings, DecisionMetrics(CollectorRegistry())).start()
        load_before = os.getloadavg()
        i = 0
        try:
            for round_ in range(args.chunks + 1):  # round 0: warm-up, not counted
                order = settings_order if round_ % 2 == 0 else list(reversed(settings_order))
                for label, recorded in order:
                    record = (
                        recording.ChunkRecord(writer, f"p{i}", time.time(), "bench0000000")
                        if recorded
                        else None
                    )
                    out = work / f"part-{i}.parquet"
                    spans.clear()
                    started = time.perf_counter()
                    chunk_module.run_chunk(model, spec(i), out, None, record=record, reasons_k=K)
                    ended = time.perf_counter()
                    out.unlink()
                    i += 1
                    if round_ == 0:
                        continue
                    total[label].append((ended - started) * 1e3)
                    for step, a, b in spans:
                        per[label][step].append(((b - a) * 1e3, (b - started) * 1e3))
        finally:
            writer.close()
    print(f"load before {load_before}, after {os.getloadavg()}")
    med: Callable[[list[float]], float] = statistics.median
    for label, _ in settings_order:
        print(
            f"\n{label}: whole chunk median {med(total[label]):.1f} ms, best "
            f"{min(total[label]):.1f} ms ({args.chunks} chunks)\n"
        )
        print("| step | median ms | best ms | ends at (median, ms from start) |")
        print("|---|---|---|---|")
        steps = sorted(per[label].items(), key=lambda kv: med([e for _, e in kv[1]]))
        for step, values in steps:
            d = [x for x, _ in values]
            e = [y for _, y in values]
            print(f"| {step} | {med(d):.1f} | {min(d):.1f} | {med(e):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
