"""Turn a submit request into an input file on storage.

Accepted bodies: JSON ``{"rows": [...]}`` (checked in full, 422 with rows) or
``{"path": "..."}`` (a file inside an allowed input folder); a multipart form with a
``file`` field; or a raw CSV/Parquet body (``text/csv``,
``application/vnd.apache.parquet``, ``application/octet-stream``), streamed to disk.

Every submission is fingerprinted while it is read (``RequestDigest``), so an
Idempotency-Key sent again with a different request can be refused (422) instead of
silently answering with the first job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import Request
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

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


class RequestDigest:
    """Fingerprint of what defines a submission: media type, query options and body — of
    a multipart form its fields, file name and file content, not its random boundary."""

    def __init__(self, ctype: str, params: dict[str, str | None]) -> None:
        self._hash = hashlib.sha256()
        self.update(json.dumps({"content-type": ctype, **params}, sort_keys=True).encode())

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def form_fields(self, form: FormData, upload: UploadFile | None) -> None:
        fields = {k: v for k, v in form.multi_items() if not isinstance(v, UploadFile)}
        fields["filename"] = (upload.filename or "") if upload is not None else ""
        self.update(json.dumps(fields, sort_keys=True).encode())

    def hexdigest(self) -> str:
        return self._hash.hexdigest()[:32]


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def fingerprint(request: Request, params: dict[str, str | None]) -> str:
    """The fingerprint ``receive`` would give this request, storing nothing (to compare
    a replayed Idempotency-Key's request with the one that created its job)."""
    ctype = _media_type(request)
    digest = RequestDigest(ctype, params)
    if ctype == "multipart/form-data":
        form = await request.form(max_files=1)
        upload = form.get("file")
        upload = upload if isinstance(upload, UploadFile) else None
        digest.form_fields(form, upload)
        if upload is not None:
            await run_in_threadpool(_copy, upload, None, digest)
    else:
        async for block in request.stream():
            digest.update(block)
    return digest.hexdigest()


async def receive(
    request: Request, paths: JobPaths, service: BatchService, params: dict[str, str | None]
) -> Source:
    """Store the submitted input; the returned source carries the request fingerprint."""
    ctype = _media_type(request)
    digest = RequestDigest(ctype, params)
    source = await _receive(request, ctype, paths, service, params, digest)
    return dataclasses.replace(source, fingerprint=digest.hexdigest())


async def _receive(
    request: Request,
    ctype: str,
    paths: JobPaths,
    service: BatchService,
    params: dict[str, str | None],
    digest: RequestDigest,
) -> Source:
    if ctype == "application/json":
        return await _json(request, paths, service, digest)
    if ctype == "multipart/form-data":
        return await _form(request, paths, params, digest)
    if ctype in CSV_TYPES or ctype in PARQUET_TYPES:
        declared = "csv" if ctype in CSV_TYPES else "parquet"
        if ctype == "application/octet-stream":
            declared = ""  # the bytes decide
        target = paths.input(declared or "bin")
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            async for block in request.stream():
                digest.update(block)
                out.write(block)
        fmt = params.get("format") or declared or None
        return Source("upload", target, fmt, params.get("name") or "", params.get("id_column"))
    raise UnsupportedMediaType(
        f"unsupported Content-Type {ctype!r}: send JSON, a multipart "
        "form with a file, text/csv or application/vnd.apache.parquet"
    )


async def _json(
    request: Request, paths: JobPaths, service: BatchService, digest: RequestDigest
) -> Source:
    raw = await request.body()
    digest.update(raw)
    try:
        body = SubmitBody.model_validate_json(raw)
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


def _copy(upload: UploadFile, target: Path | None, digest: RequestDigest) -> None:
    """Hash the uploaded file (spooled by Starlette) and copy it to ``target``, if any."""
    upload.file.seek(0)
    with target.open("wb") if target is not None else contextlib.nullcontext() as out:
        while block := upload.file.read(1 << 20):
            digest.update(block)
            if out is not None:
                out.write(block)


async def _form(
    request: Request, paths: JobPaths, params: dict[str, str | None], digest: RequestDigest
) -> Source:
    form = await request.form(max_files=1)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInput("multipart submission needs a 'file' field")
    digest.form_fields(form, upload)
    name = upload.filename or ""
    declared = form.get("format") or params.get("format")
    suffix = "parquet" if name.lower().endswith((".parquet", ".pq")) else "csv"
    target = paths.input(suffix)
    target.parent.mkdir(parents=True, exist_ok=True)
    await run_in_threadpool(_copy, upload, target, digest)
    id_column = form.get("id_column") or params.get("id_column")
    return Source(
        "upload",
        target,
        str(declared) if declared else suffix,
        name,
        str(id_column) if id_column else None,
    )
