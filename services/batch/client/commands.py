"""The client commands: ``submit`` (upload or path, then a progress bar until the job
ends), ``status`` and ``results``. Exit codes: 0 succeeded, 1 job failed or cancelled,
2 request refused or API unreachable, 3 gave up waiting."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

from services.batch import formats
from services.batch.client.http import DEFAULT_URL, ApiError, BatchClient


def _client(args: argparse.Namespace) -> BatchClient:
    return BatchClient(args.url, args.api_key)


def _print(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=1))


def _finish(status: dict[str, Any]) -> int:
    _print(status)
    return 0 if status["state"] == "succeeded" else 1


def _submit(args: argparse.Namespace) -> int:
    api = _client(args)
    if args.path:
        body = {"path": args.path, "format": args.format, "id_column": args.id_column}
        job = api.submit_json({k: v for k, v in body.items() if v}, args.idempotency_key)
    elif args.file:
        job = api.submit_file(Path(args.file), args.id_column, args.idempotency_key)
    else:
        raise SystemExit("give a FILE to upload or --path of a file on shared storage")
    print(f"job {job['job_id']} {job['state']}", file=sys.stderr)
    if args.no_wait:
        _print(job)
        return 0
    return _finish(api.wait(job["job_id"], args.timeout, progress=not args.quiet))


def _status(args: argparse.Namespace) -> int:
    api = _client(args)
    if args.wait:
        return _finish(api.wait(args.job_id, args.timeout, progress=not args.quiet))
    _print(api.status(args.job_id))
    return 0


def _results(args: argparse.Namespace) -> int:
    api = _client(args)
    if args.output:
        print(api.download(args.job_id, Path(args.output), download_format(args.output)))
    else:
        _print(api.page(args.job_id, args.offset, args.limit))
    return 0


def download_format(output: str) -> str:
    """The results format an output file name asks for: its suffix's, else Parquet."""
    fmt = formats.for_file_name(output)
    return fmt.name if fmt is not None and fmt.write_results else "parquet"


def _run(handler: Any) -> Any:
    def guarded(args: argparse.Namespace) -> int:
        try:
            return int(handler(args))
        except (ApiError, httpx.TransportError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except TimeoutError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3

    return guarded


def add_commands(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("BATCH_API_URL", DEFAULT_URL),
        help="job API base URL (env BATCH_API_URL)",
    )
    common.add_argument(
        "--api-key",
        default=os.environ.get("BATCH_API_KEY"),
        help="X-API-Key value (env BATCH_API_KEY)",
    )
    common.add_argument(
        "--timeout", type=float, default=3600.0, help="give up waiting after this many seconds"
    )
    common.add_argument("--quiet", action="store_true", help="no progress bar")
    submit = commands.add_parser("submit", parents=[common], help="submit a job")
    submit.add_argument("file", nargs="?", help="file to upload (CSV, Parquet, JSON Lines)")
    submit.add_argument("--path", help="score a file already on shared storage instead")
    submit.add_argument("--format", choices=formats.names(), help="format of --path")
    submit.add_argument("--id-column", help="input column copied into the results")
    submit.add_argument("--idempotency-key", help="resubmitting with the same key: same job")
    submit.add_argument("--no-wait", action="store_true", help="print the job and return")
    submit.set_defaults(handler=_run(_submit))
    status = commands.add_parser("status", parents=[common], help="show a job's status")
    status.add_argument("job_id")
    status.add_argument("--wait", action="store_true", help="show progress until it ends")
    status.set_defaults(handler=_run(_status))
    results = commands.add_parser("results", parents=[common], help="fetch a job's results")
    results.add_argument("job_id")
    results.add_argument("-o", "--output", help="download to this .csv or .parquet file")
    results.add_argument("--offset", type=int, default=0, help="first row of a JSON page")
    results.add_argument("--limit", type=int, default=20, help="rows in a JSON page")
    results.set_defaults(handler=_run(_results))
