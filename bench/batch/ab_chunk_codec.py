"""A/B of two ``chunk_codec`` versions on the batch record path, chunk by chunk, in one
process (issue 17): the effect of a codec change without the noise of whole runs.

Not a test. ``--baseline`` is another version of ``services/core/decisions/chunk_codec.py``
(e.g. ``git show main:services/core/decisions/chunk_codec.py > /tmp/old_codec.py``); the
checkout's own is the other. Synthetic Default chunks (200,000 rows) are scored by
``run_chunk`` with k = 4 reasons in three settings, interleaved per chunk (ABBA-like):
no record, the record built by the baseline's ``chunk_document``, by the checkout's — the
record stored in a real PostgreSQL (``tests.support.postgres``) through the workers'
``DecisionWriter``. Before that, ``encode_payload`` + SHA-256 alone, alternated, and the
two documents' decoded tables are checked equal. The scoring's groups are given to both
(``score_grouped``; a version without the ``groups`` parameter builds without them).

    python bench/batch/ab_chunk_codec.py --baseline /tmp/old_codec.py [--chunks 40]

Prints markdown tables (ms per chunk: best, median).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import importlib.util
import inspect
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

K = 4

DISTINCT = 10  # distinct input chunks, cycled


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_chunk_codec", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def table(name: str, times: dict[str, list[float]], base: str | None = None) -> None:
    first = next(iter(times.values()))
    extra = " | adds vs first (median) ms" if base else ""
    print(f"| {name} ({len(first)} chunks each) | best ms | median ms{extra} |")
    print("|---|---|---|" + ("---|" if base else ""))
    ref = statistics.median(times[base]) if base else 0.0
    for step, values in times.items():
        med = statistics.median(values)
        more = f" | {(med - ref) * 1e3:+.1f}" if base else ""
        print(f"| {step} | {min(values) * 1e3:.1f} | {med * 1e3:.1f}{more} |")


def encoder(codec: ModuleType) -> Callable[..., bytes]:
    """A version's ``encode_payload`` taking ``groups=`` (the scoring's: format 4); a
    version without the parameter gets none."""
    encode = codec.encode_payload
    if "groups" in inspect.signature(encode).parameters:
        return cast(Callable[..., bytes], encode)

    def without_groups(*args: Any, groups: Any = None, **kwargs: Any) -> bytes:
        return cast(bytes, encode(*args, **kwargs))

    return without_groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--chunks", type=int, default=40)
    args = parser.parse_args(argv)

    from prometheus_client import CollectorRegistry

    from bench.batch.ab_result_reasons import grouped_codec
    from bench.batch.inputs import chunked_input, one_worker_model
    from services.batch.worker import recording
    from services.batch.worker.chunk import encode_chunk, read_chunk, run_chunk
    from services.batch.worker.scoring import score_grouped
    from services.core.decisions import chunk_codec
    from services.core.decisions.metrics import DecisionMetrics
    from services.core.decisions.record import BatchHeader, InputsMode, ModelIdentity
    from services.core.decisions.settings import DecisionSettings
    from services.core.decisions.writer import DecisionWriter
    from tests.support.postgres import postgres_server

    baseline = load(args.baseline)
    codecs = {"baseline": baseline, "this checkout": chunk_codec}
    with (
        tempfile.TemporaryDirectory(prefix="ab-chunk-codec-") as tmp,
        postgres_server() as pg,
    ):
        work = Path(tmp)
        model = one_worker_model(work)
        names = [f.name for f in model.contract.features]
        spec = chunked_input(work, DISTINCT)

        # encode alone, and the decoded documents compared
        head = BatchHeader(ModelIdentity("m", "1", "batch"), 0.5, "ab", time.time(), "caller")
        encode: dict[str, list[float]] = {f"encode_payload + SHA-256, {c}": [] for c in codecs}
        for n in range(min(args.chunks, DISTINCT) * 3):
            chunk = read_chunk(model, spec(n), None)
            result, groups = score_grouped(
                model, encode_chunk(model, chunk, spec(n).offset), spec(n).offset + 1, None, None, K
            )
            inputs = chunk.select(names)
            order = list(codecs) if n % 2 == 0 else list(reversed(codecs))
            docs = {}
            for name in order:
                started = time.perf_counter()
                payload = encoder(codecs[name])(inputs, result, InputsMode.VALUES, groups=groups)
                hashlib.sha256(payload).hexdigest()
                encode[f"encode_payload + SHA-256, {name}"].append(time.perf_counter() - started)
                docs[name] = payload
            if n < DISTINCT:
                new = chunk_codec.chunk_document(
                    head, n, inputs, result, InputsMode.VALUES, groups=groups
                )
                built = grouped_codec(baseline)(
                    head, n, inputs, result, InputsMode.VALUES, groups=groups
                )
                old = dataclasses.replace(  # the baseline's payload, in its format
                    new,
                    payload=built.payload,
                    payload_sha256=built.payload_sha256,
                    payload_format=built.payload_format,
                )
                assert chunk_codec.decoded_table(old).equals(chunk_codec.decoded_table(new)), (
                    f"chunk {n}: the two documents decode differently"
                )
        table("encode alone", encode)

        settings = DecisionSettings(dsn=pg.dsn, spool_dir=work / "spool")
        writer = DecisionWriter(settings, DecisionMetrics(CollectorRegistry())).start()
        runs: dict[str, list[float]] = {"reasons, no record": []}
        runs.update({f"reasons + record, {c}": [] for c in codecs})
        sequence: list[str] = []
        for i in range(args.chunks):
            a, b = list(codecs)
            sequence += [a, "", b] if i % 2 == 0 else [b, "", a]
        try:
            for n, name in enumerate(sequence):
                record = None
                if name:
                    recording.chunk_document = grouped_codec(codecs[name])  # type: ignore[attr-defined]
                    record = recording.ChunkRecord(writer, f"ab{n}", time.time(), "bench0000000")
                out = work / f"part-{n}.parquet"
                started = time.perf_counter()
                run_chunk(model, spec(n), out, None, record=record, reasons_k=K)
                key = f"reasons + record, {name}" if name else "reasons, no record"
                runs[key].append(time.perf_counter() - started)
                out.unlink()
        finally:
            writer.close()
            recording.chunk_document = chunk_codec.chunk_document  # type: ignore[attr-defined]
        table("run_chunk (read, score k=4, record, write), interleaved", runs, "reasons, no record")
    return 0


if __name__ == "__main__":
    sys.exit(main())
