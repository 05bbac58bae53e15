"""Turn a submit request into an input file on storage.

Accepted bodies: JSON ``{"rows": [...]}`` (checked in full, 422 with rows) or
``{"path": "..."}`` (a file inside an allowed input folder); a multipart form with a
``file`` field; or a raw CSV/Parquet body (``text/csv``,
``application/vnd.apache.parquet``, ``application/octet-stream``), streamed to disk.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import Request
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from services.batch.inputs import check_frame
from services.batch.service import BatchService, Source
from services.batch.storage import JobPaths, atomic_write
from services.core.web.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

CSV_TYPES = {"text/csv", "application/csv", "text/plain"}
PARQUET_TYPES = {
    "application/vnd.apache.parquet",
    "application/x-parquet",
    "application/parquet",
    "application/octet-stream",
}


class SubmitBody(BaseModel):
    """A JSON submission: rows to score, or a path on shared storage."""

    model_config = ConfigDict(extra="forbid")
    rows: list[dict[str, Any]] | None = Field(
        None, validation_alias=AliasChoices("rows", "applicants", "instances")
    )
    path: str | None = Field(None, description="file inside an allowed input folder")
    format: Literal["csv", "parquet"] | None = None
    id_column: str | None = Field(None, description="input column copied into the results")


async def receive(
    request: Request, paths: JobPaths, service: BatchService, params: dict[str, str | None]
) -> Source:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        return await _json(request, paths, service)
    if ctype == "multipart/form-data":
        return await _form(request, paths, params)
    if ctype in CSV_TYPES or ctype in PARQUET_TYPES:
        declared = "csv" if ctype in CSV_TYPES else "parquet"
        if ctype == "application/octet-stream":
            declared = ""  # the bytes decide
        target = paths.input(declared or "bin")
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            async for block in request.stream():
                out.write(block)
        fmt = params.get("format") or declared or None
        return Source("upload", target, fmt, params.get("name") or "", params.get("id_column"))
    raise UnsupportedMediaType(
        f"unsupported Content-Type {ctype!r}: send JSON, a multipart "
        "form with a file, text/csv or application/vnd.apache.parquet"
    )


async def _json(request: Request, paths: JobPaths, service: BatchService) -> Source:
    try:
        body = SubmitBody.model_validate_json(await request.body())
    except ValidationError as exc:
        raise InvalidInput(
            "request failed validation",
            [
                {"loc": [str(p) for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors()
            ],
        ) from exc
    if (body.rows is None) == (body.path is None):
        raise InvalidInput("give either rows or path")
    if body.path is not None:
        found = service.backend.storage.resolve_input(body.path)
        if found is None:
            raise InvalidInput(f"path {body.path!r} is not a file in an allowed input folder")
        return Source("path", found, body.format, body.path, body.id_column)
    if len(body.rows or []) > service.settings.max_json_rows:
        raise PayloadTooLarge(
            f"at most {service.settings.max_json_rows} rows per JSON "
            "submission; upload a CSV or Parquet file instead"
        )
    target = paths.input("parquet")
    await run_in_threadpool(write_rows, body.rows or [], target, service, body.id_column)
    return Source("json", target, "parquet", "rows", body.id_column)


def write_rows(
    rows: list[dict[str, Any]], target: Path, service: BatchService, id_column: str | None
) -> None:
    features = service.require_contract().features
    frame = pd.DataFrame.from_records(rows)
    if id_column and id_column not in frame.columns:
        raise InvalidInput(f"id column {id_column!r} is not in the rows")
    check_frame(frame, features)  # BadInput → 422 with rows, raised by the service mapping
    data = {
        f.name: (
            frame[f.name].astype("string")
            if f.is_categorical
            else pd.to_numeric(frame[f.name]).astype("float64")
        )
        for f in features
    }
    if id_column:
        column = frame[id_column]
        data[id_column] = column.astype("string") if column.dtype == object else column
    table = pa.Table.from_pandas(pd.DataFrame(data), preserve_index=False)
    chunk_rows = service.settings.chunk_rows
    atomic_write(target, lambda tmp: pq.write_table(table, tmp, row_group_size=chunk_rows))


async def _form(request: Request, paths: JobPaths, params: dict[str, str | None]) -> Source:
    form = await request.form(max_files=1)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("multipart submission needs a 'file' field")
    name = upload.filename or ""
    declared = form.get("format") or params.get("format")
    suffix = "parquet" if name.lower().endswith((".parquet", ".pq")) else "csv"
    target = paths.input(suffix)
    target.parent.mkdir(parents=True, exist_ok=True)

    def copy() -> None:
        with target.open("wb") as out:
            shutil.copyfileobj(upload.file, out, 1 << 20)

    await run_in_threadpool(copy)
    id_column = form.get("id_column") or params.get("id_column")
    return Source(
        "upload",
        target,
        str(declared) if declared else suffix,
        name,
        str(id_column) if id_column else None,
    )
