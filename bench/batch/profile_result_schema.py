"""What each result-file schema alternative for the reason columns would save per chunk
(issue 17, batch ratio): a measurement for a product decision, not a change.

Not a test, not a benchmark table of the worker: one breakdown. Synthetic Default chunks
(200,000 rows, as ``run_chunk`` reads them) are scored with k = 4 reasons; each chunk's
result table is then written with ``result_files.write_table`` (the worker's writer) in
each layout below, the layouts interleaved (rotated per chunk) so load drifts hit all:

- ``off``: no reason columns (the reference);
- ``current``: the 12 nullable ``reason_i*`` columns as the worker writes them;
- ``a non-null``: no nulls and non-nullable fields (Parquet REQUIRED: no definition
  levels): ``""`` statement and feature, NaN contribution where there is no reason;
- ``b float32``: contributions as float32;
- ``c no feature``: no ``reason_i_feature`` columns;
- ``d k = features``: k capped at the model's feature count (3 for Default);
- ``e list<struct>``: one ``reasons`` column, per row a list of its reasons (statement,
  feature: dictionaries; contribution float64), no null entries;
- ``a0``: as ``a`` but the fields still nullable (OPTIONAL: levels written, no null);
- ``a+c``, ``a+b+c+d``: together.

The time to build a layout from the current columns is printed apart (``build``): a
layout adopted would be built in scoring instead, at a cost not measured here.

    python bench/batch/profile_result_schema.py [--chunks 3] [--rounds 10]

Prints a markdown table: per layout, write ms per chunk (best, median), saving against
``current`` (median), file size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

K = 4
from bench.batch.inputs import CHUNK_ROWS  # noqa: E402


def _reasons(table: pa.Table) -> list[str]:
    return [n for n in table.column_names if n.startswith("reason_")]


def off(table: pa.Table) -> pa.Table:
    return table.drop_columns(_reasons(table))


def non_null(table: pa.Table, required: bool = True) -> pa.Table:
    """No nulls: ``""`` (a dictionary entry) and NaN where there is no reason; the fields
    REQUIRED (``required``) or still OPTIONAL (definition levels written, all 1)."""
    fields, columns = [], []
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if name.startswith("reason_") and pa.types.is_dictionary(column.type):
            values = pa.concat_arrays([column.dictionary, pa.array([""])])
            codes = pc.fill_null(column.indices, len(values) - 1)
            column = pa.DictionaryArray.from_arrays(codes, values)
        elif name.startswith("reason_"):
            column = pc.fill_null(column, float("nan"))
        reason = name.startswith("reason_")
        fields.append(pa.field(name, column.type, nullable=not (reason and required)))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields, table.schema.metadata))


def float32(table: pa.Table) -> pa.Table:
    for i, name in enumerate(table.column_names):
        if name.endswith("_contribution"):
            table = table.set_column(i, name, pc.cast(table.column(name), pa.float32()))
    return table


def no_feature(table: pa.Table) -> pa.Table:
    return table.drop_columns([n for n in table.column_names if n.endswith("_feature")])


def capped(features: int) -> Callable[[pa.Table], pa.Table]:
    def cap(table: pa.Table) -> pa.Table:
        extra = [f"reason_{i}" for i in range(features + 1, K + 1)]
        drop = [n for n in _reasons(table) if any(n == e or n.startswith(e + "_") for e in extra)]
        return table.drop_columns(drop)

    return cap


def list_struct(table: pa.Table) -> pa.Table:
    """One ``reasons`` column: list<struct<statement, feature, contribution>> per row."""
    n = table.num_rows
    valid = np.stack(
        [
            table.column(f"reason_{i}_feature").is_valid().to_numpy(zero_copy_only=False)
            for i in range(1, K + 1)
        ],
        axis=1,
    )  # (rows, k); the reasons of a row are its first ones
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(valid.sum(axis=1), out=offsets[1:])
    flat = np.flatnonzero(valid.ravel())  # row-major: row r's reason i at r * k + i

    def child(suffix: str) -> pa.Array:
        cols = [table.column(f"reason_{i}{suffix}").combine_chunks() for i in range(1, K + 1)]
        if pa.types.is_dictionary(cols[0].type):
            codes = np.stack([c.indices.fill_null(0).to_numpy() for c in cols], axis=1).ravel()[
                flat
            ]
            return pa.DictionaryArray.from_arrays(pa.array(codes), cols[0].dictionary)
        weights = np.stack([c.to_numpy(zero_copy_only=False) for c in cols], axis=1)
        return pa.array(weights.ravel()[flat])

    items = pa.StructArray.from_arrays(
        [child(""), child("_feature"), child("_contribution")],
        ["statement", "feature", "contribution"],
    )
    reasons = pa.ListArray.from_arrays(pa.array(offsets), items)
    return off(table).append_column("reasons", reasons)


def all_four(features: int) -> Callable[[pa.Table], pa.Table]:
    cap = capped(features)
    return lambda table: non_null(float32(no_feature(cap(table))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)

    from bench.batch.inputs import chunked_input, one_worker_model
    from services.batch.state.result_files import write_table
    from services.batch.worker.chunk import encode_chunk, read_chunk
    from services.batch.worker.scoring import score_encoded

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = one_worker_model(work)
        features = len(model.contract.features)
        chunk_spec = chunked_input(work, args.chunks)
        results = []
        for c in range(args.chunks):
            spec = chunk_spec(c)
            table = read_chunk(model, spec, None)
            encoded = encode_chunk(model, table, spec.offset)
            results.append(score_encoded(model, encoded, spec.offset + 1, None, None, K))
        layouts: dict[str, Callable[[pa.Table], pa.Table]] = {
            "off (no reason columns)": off,
            "current (12 nullable columns)": lambda t: t,
            "a non-null (REQUIRED, '' / NaN)": non_null,
            "a0 no nulls, fields still nullable": lambda t: non_null(t, required=False),
            "b contributions float32": float32,
            "c no reason_i_feature": no_feature,
            f"d k capped at {features} features": capped(features),
            "e one list<struct> column": list_struct,
            "a+c": lambda t: non_null(no_feature(t)),
            "a+b+c+d": all_four(features),
        }
        built = {
            (name, c): layout(r) for name, layout in layouts.items() for c, r in enumerate(results)
        }
        write: dict[str, list[float]] = {name: [] for name in layouts}
        build: dict[str, list[float]] = {name: [] for name in layouts}
        size: dict[str, int] = {}
        names = list(layouts)
        target = work / "out.parquet"
        for r in range(args.rounds):
            for c, result in enumerate(results):
                shift = (r * args.chunks + c) % len(names)
                for name in names[shift:] + names[:shift]:
                    started = time.perf_counter()
                    layouts[name](result)
                    build[name].append(time.perf_counter() - started)
                    started = time.perf_counter()
                    write_table(built[name, c], target)
                    write[name].append(time.perf_counter() - started)
                    size[name] = target.stat().st_size
    base = statistics.median(write["current (12 nullable columns)"])
    n = len(write[names[0]])
    print(
        f"| layout ({n} chunks of {CHUNK_ROWS:,} rows each) | write best ms | write median ms "
        "| saved vs current (median) ms | build median ms | file bytes |"
    )
    print("|---|---|---|---|---|---|")
    for name in names:
        med = statistics.median(write[name])
        print(
            f"| {name} | {min(write[name]) * 1e3:.1f} | {med * 1e3:.1f} | "
            f"{(base - med) * 1e3:+.1f} | {statistics.median(build[name]) * 1e3:.1f} "
            f"| {size[name]:,} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
