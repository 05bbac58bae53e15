"""Read a submit request: ``HttpSubmission`` is the ``service.submit.Submission`` of HTTP.

Accepted bodies: JSON ``{"rows": [...]}`` (checked in full against the models generated
from the contract, ``api.schemas``: 422 naming columns and rows) or ``{"path": "..."}``
(a file inside an allowed input folder); a multipart form with a
``file`` field; or a raw body in any registered input format (``text/csv``,
``application/vnd.apache.parquet``, ``application/x-ndjson``, …, or
``application/octet-stream``: the bytes decide), streamed to disk.

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

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from services.batch import formats
from services.batch.api.openapi import submit_schemas
from services.batch.api.schemas import InvalidBody, SubmitPath
from services.batch.service.batch_service import BatchService
from services.batch.service.submit import Source
from services.batch.state.storage import JobPaths
from services.core.web.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

FORMAT_PATTERN = formats.name_pattern()


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


@dataclasses.dataclass
class HttpSubmission:
    request: Request
    service: BatchService
    params: dict[str, str | None]  # query options: id_column, name, format
    caller: str | None = None  # the key id: which input folders a path may name

    @property
    def media_type(self) -> str:
        return self.request.headers.get("content-type", "").split(";")[0].strip().lower()

    async def fingerprint(self) -> str:
        """The fingerprint ``store`` would give this request, storing nothing (to compare
        a replayed Idempotency-Key's request with the one that created its job)."""
        digest = RequestDigest(self.media_type, self.params)
        if self.media_type == "multipart/form-data":
            form = await self.request.form(max_files=1)
            upload = form.get("file")
            upload = upload if isinstance(upload, UploadFile) else None
            digest.form_fields(form, upload)
            if upload is not None:
                await run_in_threadpool(_copy, upload, None, digest)
        else:
            async for block in self.request.stream():
                digest.update(block)
        return digest.hexdigest()

    async def store(self, paths: JobPaths) -> Source:
        """Store the submitted input; the source carries the request fingerprint."""
        digest = RequestDigest(self.media_type, self.params)
        source = await self._store(paths, digest)
        return dataclasses.replace(source, fingerprint=digest.hexdigest())

    async def _store(self, paths: JobPaths, digest: RequestDigest) -> Source:
        ctype = self.media_type
        if ctype == "application/json":
            return await self._json(paths, digest)
        if ctype == "multipart/form-data":
            return await self._form(paths, digest)
        if formats.accepts_media_type(ctype):
            return await self._raw(paths, digest, formats.for_media_type(ctype))
        raise UnsupportedMediaType(
            f"unsupported Content-Type {ctype!r}: send JSON, a multipart form with a file, "
            f"or a file as {', '.join(formats.media_types())}"
        )

    async def _raw(
        self, paths: JobPaths, digest: RequestDigest, declared: formats.InputFormat | None
    ) -> Source:
        target = paths.input(declared.suffix if declared else "bin")
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("wb") as out:
            async for block in self.request.stream():
                digest.update(block)
                out.write(block)
        fmt = self.params.get("format") or (declared.name if declared else None)
        name = self.params.get("name") or ""
        return Source("upload", target, fmt, name, self.params.get("id_column"))

    async def _json(self, paths: JobPaths, digest: RequestDigest) -> Source:
        raw = await self._json_body()
        digest.update(raw)
        schemas = submit_schemas(self.request)
        if len(raw) > 0 and (count := _row_count(raw)) > schemas.max_rows:
            raise InvalidInput(  # the document's maxItems: a schema violation, 422
                f"at most {schemas.max_rows} rows per JSON submission ({count} sent); "
                "upload a file instead"
            )
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise InvalidInput(f"request body is not valid JSON: {exc}") from exc
        try:
            body = schemas.validate(data)
        except InvalidBody as exc:
            raise InvalidInput(exc.message, exc.details) from exc
        if isinstance(body, SubmitPath):
            found = self.service.resolve_input(body.path, self.caller)
            if found is None:
                raise InvalidInput(f"path {body.path!r} is not a file in an allowed input folder")
            return Source("path", found, body.format, body.path, body.id_column)
        rows = body.model_dump(by_alias=True)
        target = paths.input("parquet")
        await run_in_threadpool(self.service.save_rows, rows["rows"], target, rows["id_column"])
        return Source("json", target, "parquet", "rows", rows["id_column"])

    async def _json_body(self) -> bytes:
        """The JSON body, refused (413) past ``max_json_bytes`` before it is all read."""
        cap = self.service.settings.max_json_bytes
        declared = self.request.headers.get("content-length", "")
        too_large = PayloadTooLarge(
            f"JSON body exceeds {cap} bytes (BATCH_MAX_JSON_BYTES): upload a file instead"
        )
        if declared.isdigit() and int(declared) > cap:
            raise too_large
        body = bytearray()
        async for block in self.request.stream():
            body += block
            if len(body) > cap:
                raise too_large
        return bytes(body)

    async def _form(self, paths: JobPaths, digest: RequestDigest) -> Source:
        form = await self.request.form(max_files=1)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("multipart submission needs a 'file' field")
        digest.form_fields(form, upload)
        name = upload.filename or ""
        declared = form.get("format") or self.params.get("format")
        by_name = formats.for_file_name(name)
        target = paths.input(by_name.suffix if by_name else "bin")
        target.parent.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(_copy, upload, target, digest)
        id_column = form.get("id_column") or self.params.get("id_column")
        return Source(
            "upload",
            target,
            str(declared) if declared else (by_name.name if by_name else None),
            name,
            str(id_column) if id_column else None,
        )


def _row_count(raw: bytes) -> int:
    """Rows in a JSON body's ``rows`` list (0 if there is none), to refuse a body over the
    limit (422, like any body outside the document) before validating every row."""
    try:
        data = json.loads(raw)
    except ValueError:
        return 0
    rows = data.get("rows") if isinstance(data, dict) else None
    return len(rows) if isinstance(rows, list) else 0


def _copy(upload: UploadFile, target: Path | None, digest: RequestDigest) -> None:
    """Hash the uploaded file (spooled by Starlette) and copy it to ``target``, if any."""
    upload.file.seek(0)
    with target.open("wb") if target is not None else contextlib.nullcontext() as out:
        while block := upload.file.read(1 << 20):
            digest.update(block)
            if out is not None:
                out.write(block)
