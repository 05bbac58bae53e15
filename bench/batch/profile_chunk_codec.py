"""Where a batch chunk's decision document (``chunk_codec.chunk_document``) spends its
time, per 200,000-row chunk (issue 17): in-process, no PostgreSQL.

Not a test, not a benchmark table of the worker: a breakdown. Synthetic Default chunks
are read and scored with k = 4 reasons as ``run_chunk`` does; then, per chunk, rounds
interleaved:

- ``encode_payload`` + SHA-256 (what the encoder thread does before the insert);
- its steps: the columns (``_input_columns`` + ``_narrow``, ``_small_dictionary``), the
  IPC write with zstd level 1 (the format's), SHA-256;
- the IPC write of the same table with other codecs/levels (bytes as well): what a
  cheaper setting would save.

    python bench/batch/profile_chunk_codec.py [--chunks 3] [--rounds 10]

Prints a markdown table: per step, ms per chunk (best, median) and payload bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

K = 4
from bench.batch.inputs import CHUNK_ROWS  # noqa: E402

CODECS: dict[str, pa.Codec | None] = {
    "zstd 1 (the format's)": pa.Codec("zstd", compression_level=1),
    "zstd -1": pa.Codec("zstd", compression_level=-1),
    "zstd -5": pa.Codec("zstd", compression_level=-5),
    "zstd 3": pa.Codec("zstd", compression_level=3),
    "lz4": pa.Codec("lz4"),
    "none": None,
}


def sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def ipc(table: pa.Table, codec: pa.Codec | None, threads: bool = True) -> bytes:
    options = pa.ipc.IpcWriteOptions(compression=codec, use_threads=threads)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=options) as out:
        out.write_table(table)
    return bytes(sink.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)

    from bench.batch.inputs import chunked_input, one_worker_model
    from services.batch.worker.chunk import encode_chunk, read_chunk
    from services.batch.worker.scoring import score_encoded
    from services.core.decisions import chunk_codec
    from services.core.decisions.record import InputsMode

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = one_worker_model(work)
        chunk_spec = chunked_input(work, args.chunks)
        names = [f.name for f in model.contract.features]
        chunks = []
        for c in range(args.chunks):
            spec = chunk_spec(c)
            table = read_chunk(model, spec, None)
            encoded = encode_chunk(model, table, spec.offset)
            result = score_encoded(model, encoded, spec.offset + 1, None, None, K)
            chunks.append((table.select(names), result))

    times: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}

    def timed(step: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        out = fn()
        times.setdefault(step, []).append(time.perf_counter() - started)
        if isinstance(out, bytes):
            sizes[step] = len(out)
        return out

    def encode(inputs: pa.Table, result: pa.Table) -> bytes:
        payload = chunk_codec.encode_payload(inputs, result, InputsMode.VALUES)
        hashlib.sha256(payload).hexdigest()
        return payload

    def dictionaries(result: pa.Table) -> None:
        k = chunk_codec.reason_count(result)
        for name in ["risk_band"] + [
            f"reason_{i}{s}" for i in range(1, k + 1) for s in ("", "_feature")
        ]:
            chunk_codec._small_dictionary(result.column(name))

    def contributions(result: pa.Table) -> None:
        for i in range(1, chunk_codec.reason_count(result) + 1):
            chunk_codec._narrow(result.column(f"reason_{i}_contribution"))

    def input_columns(inputs: pa.Table) -> None:
        for column in chunk_codec._input_columns(inputs).values():
            chunk_codec._narrow(column)

    zstd1 = CODECS["zstd 1 (the format's)"]
    for _ in range(args.rounds):
        for inputs, result in chunks:
            payload = timed("encode_payload + SHA-256 (all)", partial(encode, inputs, result))
            with pa.ipc.open_stream(pa.py_buffer(payload)) as reader:
                stored = reader.read_all()
            timed("step: input columns (+ float32 check)", partial(input_columns, inputs))
            timed("step: int8 dictionaries (2k + band)", partial(dictionaries, result))
            timed("step: contributions float32 check (k)", partial(contributions, result))
            rows = result.column("row")
            timed("step: row numbers consecutive?", partial(chunk_codec._consecutive, rows))
            for name, codec in CODECS.items():
                timed(f"IPC write, {name}", partial(ipc, stored, codec))
            timed("IPC write, zstd 1, one thread", partial(ipc, stored, zstd1, False))
            timed("SHA-256 of the payload", partial(sha256, payload))

    n = len(times["encode_payload + SHA-256 (all)"])
    print(f"| step ({n} chunks of {CHUNK_ROWS:,} rows) | best ms | median ms | bytes |")
    print("|---|---|---|---|")
    for step, values in times.items():
        size = f"{sizes[step]:,}" if step in sizes else ""
        print(
            f"| {step} | {min(values) * 1e3:.1f} | {statistics.median(values) * 1e3:.1f} | {size} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
