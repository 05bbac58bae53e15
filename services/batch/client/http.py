"""A small HTTP client of the job API (used by the `submit`/`status`/`results` commands).

While a job runs the client shows a progress bar (tqdm) of rows done; it keeps polling
through short outages (503, connection errors) and rate limits (429, waiting as long as
``Retry-After`` says) until its own ``--timeout``, so it never waits forever.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from services.batch import formats

DEFAULT_URL = "http://127.0.0.1:8001"
FINAL = {"succeeded", "failed", "cancelled"}


class ApiError(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {"message": response.text}
        details = "".join(f"\n  - {d}" for d in error.get("details", []))
        super().__init__(f"HTTP {response.status_code}: {error.get('message')}{details}")
        self.status_code = response.status_code
        retry = response.headers.get("Retry-After", "")
        self.retry_after = float(retry) if retry.isdigit() else 0.0


class BatchClient:
    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.http = httpx.Client(
            base_url=url, headers=headers, timeout=timeout, transport=transport
        )

    def _check(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code >= 400:
            raise ApiError(response)
        return dict(response.json())

    def submit_file(
        self, path: Path, id_column: str | None = None, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        fmt = formats.for_file_name(path.name) or formats.DEFAULT
        headers = {"Content-Type": fmt.media_type}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        params = {"id_column": id_column, "name": path.name} if id_column else {"name": path.name}
        with path.open("rb") as body:
            return self._check(
                self.http.post("/api/v1/jobs", content=body, headers=headers, params=params)
            )

    def submit_json(
        self, body: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self._check(self.http.post("/api/v1/jobs", json=body, headers=headers))

    def status(self, job_id: str) -> dict[str, Any]:
        return self._check(self.http.get(f"/api/v1/jobs/{job_id}"))

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._check(self.http.post(f"/api/v1/jobs/{job_id}/cancel"))

    def page(self, job_id: str, offset: int = 0, limit: int = 1000) -> dict[str, Any]:
        params: dict[str, str | int] = {"format": "json", "offset": offset, "limit": limit}
        return self._check(self.http.get(f"/api/v1/jobs/{job_id}/results", params=params))

    def download(self, job_id: str, dest: Path, fmt: str = "parquet") -> Path:
        with self.http.stream(
            "GET", f"/api/v1/jobs/{job_id}/results", params={"format": fmt}
        ) as response:
            if response.status_code >= 400:
                response.read()
                raise ApiError(response)
            with dest.open("wb") as out:
                for block in response.iter_bytes():
                    out.write(block)
        return dest

    def wait(
        self, job_id: str, timeout: float = 3600.0, poll: float = 0.5, progress: bool = True
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        bar = tqdm(unit="rows", unit_scale=True, disable=not progress, desc=job_id[:8])
        try:
            while time.monotonic() < deadline:
                try:
                    status = self.status(job_id)
                except (httpx.TransportError, ApiError) as exc:
                    if isinstance(exc, ApiError) and exc.status_code not in (429, 503):
                        raise
                    bar.set_postfix_str(f"unavailable, retrying ({exc})"[:60])
                    if isinstance(exc, ApiError) and exc.retry_after:
                        time.sleep(min(exc.retry_after, max(0.0, deadline - time.monotonic())))
                else:
                    _update(bar, status)
                    if status["state"] in FINAL:
                        return status
                time.sleep(poll)
        finally:
            bar.close()
        raise TimeoutError(f"job {job_id} not finished after {timeout:.0f} s")


def _update(bar: tqdm, status: dict[str, Any]) -> None:
    if status.get("rows_total") and bar.total != status["rows_total"]:
        bar.total = status["rows_total"]
    bar.update(status.get("rows_done", 0) - bar.n)
    bar.set_postfix_str(status["state"])
