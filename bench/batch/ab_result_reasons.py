"""A/B of two versions of the batch reason columns (``services/batch/worker/scoring.py``)
and of ``chunk_codec``, chunk by chunk, in one process (issue 17): e.g. nullable reason
columns (rec17h) against non-nullable ones ("" / NaN, REQUIRED in Parquet).

Not a test. ``--baseline-scoring`` / ``--baseline-codec`` are other versions of the two
files (``git show main:services/batch/worker/scoring.py > /tmp/base_scoring.py``); the
checkout's own are the other. A version without ``score_grouped`` (before chunk document
format 4) is run through its ``score_encoded``, its ``chunk_document`` given no groups; each
version's payload format and size is printed for every distinct chunk. Synthetic Default
chunks (200,000 rows) go through
``run_chunk`` with k = 4 in five settings, interleaved per chunk (order reversed every
other round): no reasons; reasons, baseline and checkout; reasons + record (a real
PostgreSQL through the workers' ``DecisionWriter``), baseline and checkout. Before that,
the two versions' decoded documents (``decoded_table``) and the result files read through
``with_null_reasons`` are checked equal on every distinct chunk.

    python bench/batch/ab_result_reasons.py --baseline-scoring S --baseline-codec C [--chunks 20]

Prints a markdown table (ms per chunk: best, median, median vs no reasons).
"""

from __future__ import annotations

import argparse
import dataclasses
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

DISTINCT = 5  # distinct input chunks, cycled


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def grouped_scoring(score: ModuleType) -> Callable[..., tuple[Any, Any]]:
    """A version's ``score_grouped`` (what ``run_chunk`` calls); a version without it
    (before chunk document format 4): its ``score_encoded`` and no groups."""
    found = getattr(score, "score_grouped", None)
    if found is not None:
        return cast(Callable[..., tuple[Any, Any]], found)

    def without_groups(*args: Any, **kwargs: Any) -> tuple[Any, None]:
        return score.score_encoded(*args, **kwargs), None

    return without_groups


def grouped_codec(codec: ModuleType) -> Callable[..., Any]:
    """A version's ``chunk_document`` taking ``groups=`` (``recording`` passes them); a
    version without the parameter gets none (it builds its own format)."""
    build = codec.chunk_document
    if "groups" in inspect.signature(build).parameters:
        return cast(Callable[..., Any], build)

    def without_groups(*args: Any, groups: Any = None, **kwargs: Any) -> Any:
        return build(*args, **kwargs)

    return without_groups


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline-scoring", type=Path, required=True)
    parser.add_argument("--baseline-codec", type=Path, required=True)
    parser.add_argument("--chunks", type=int, default=20)
    args = parser.parse_args(argv)

    import pyarrow.parquet as pq
    from prometheus_client import CollectorRegistry

    from bench.batch.inputs import chunked_input, one_worker_model
    from services.batch.worker import chunk as chunk_module
    from services.batch.worker import recording, scoring
    from services.core.decisions import chunk_codec
    from services.core.decisions.metrics import DecisionMetrics
    from services.core.decisions.record import BatchHeader, InputsMode, ModelIdentity
    from services.core.decisions.settings import DecisionSettings
    from services.core.decisions.writer import DecisionWriter
    from services.core.reason_layout import with_null_reasons
    from tests.support.postgres import postgres_server

    versions = {
        "baseline": (
            load(args.baseline_scoring, "base_scoring"),
            load(args.baseline_codec, "base_codec"),
        ),
        "checkout": (scoring, chunk_codec),
    }

    def use(name: str) -> None:
        score, codec = versions[name]
        chunk_module.score_grouped = grouped_scoring(score)  # type: ignore[attr-defined]
        recording.chunk_document = grouped_codec(codec)  # type: ignore[attr-defined]

    with (
        tempfile.TemporaryDirectory(prefix="ab-result-reasons-") as tmp,
        postgres_server() as pg,
    ):
        work = Path(tmp)
        model = one_worker_model(work)
        names = [f.name for f in model.contract.features]
        spec = chunked_input(work, DISTINCT)

        head = BatchHeader(ModelIdentity("m", "1", "batch"), 0.5, "ab", time.time(), "caller")
        for n in range(DISTINCT):  # same readers' view, same decoded document
            files, docs = {}, {}
            for name in versions:
                use(name)
                out = work / f"check-{name}.parquet"
                chunk_module.run_chunk(model, spec(n), out, None, reasons_k=K)
                files[name] = with_null_reasons(pq.read_table(out))
                out.unlink()
                chunk = chunk_module.read_chunk(model, spec(n), None)
                encoded = chunk_module.encode_chunk(model, chunk, spec(n).offset)
                score = grouped_scoring(versions[name][0])
                result, groups = score(model, encoded, spec(n).offset + 1, None, None, K)
                docs[name] = grouped_codec(versions[name][1])(
                    head, n, chunk.select(names), result, InputsMode.VALUES, groups=groups
                )
            print(
                f"chunk {n}: "
                + ", ".join(
                    f"{name} {d.payload_format} {len(d.payload):,} B" for name, d in docs.items()
                ),
                flush=True,
            )
            assert files["baseline"].to_pylist() == files["checkout"].to_pylist(), n
            base = dataclasses.replace(  # the baseline's payload in the checkout's row
                docs["checkout"],
                payload=docs["baseline"].payload,
                payload_sha256=docs["baseline"].payload_sha256,
                payload_format=docs["baseline"].payload_format,
            )
            assert chunk_codec.decoded_table(base).equals(
                chunk_codec.decoded_table(docs["checkout"])
            ), f"chunk {n}: the documents decode differently"

        settings = DecisionSettings(dsn=pg.dsn, spool_dir=work / "spool")
        writer = DecisionWriter(settings, DecisionMetrics(CollectorRegistry())).start()
        settings_order = [
            ("off", "checkout", 0, False),
            ("reasons, baseline", "baseline", K, False),
            ("reasons, checkout", "checkout", K, False),
            ("reasons + record, baseline", "baseline", K, True),
            ("reasons + record, checkout", "checkout", K, True),
        ]
        times: dict[str, list[float]] = {s[0]: [] for s in settings_order}
        n = 0
        try:
            for round_ in range(args.chunks):
                order = settings_order if round_ % 2 == 0 else list(reversed(settings_order))
                for label, name, k, recorded in order:
                    use(name)
                    record = (
                        recording.ChunkRecord(writer, f"ab{n}", time.time(), "bench0000000")
                        if recorded
                        else None
                    )
                    out = work / f"part-{n}.parquet"
                    started = time.perf_counter()
                    chunk_module.run_chunk(model, spec(n), out, None, record=record, reasons_k=k)
                    times[label].append(time.perf_counter() - started)
                    out.unlink()
                    n += 1
        finally:
            writer.close()
            use("checkout")
        ref = statistics.median(times["off"])
        print(
            f"| per 200,000-row chunk ({args.chunks} each) | best ms | median ms | median vs off |"
        )
        print("|---|---|---|---|")
        for label, values in times.items():
            med = statistics.median(values)
            print(f"| {label} | {min(values) * 1e3:.1f} | {med * 1e3:.1f} | {ref / med:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
