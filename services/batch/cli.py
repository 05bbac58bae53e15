"""``python -m services.batch``: the job API, the worker, and a client for both.

    python -m services.batch api                    # serve the job API (uvicorn)
    python -m services.batch worker [--burst]       # score chunk tasks from the queue
    python -m services.batch submit FILE            # upload, then show a progress bar
    python -m services.batch submit --path NAME     # a file already on shared storage
    python -m services.batch status JOB_ID [--wait]
    python -m services.batch results JOB_ID -o results.parquet
    python -m services.batch demo                   # 100,000 synthetic applicants end to end

Server settings come from ``BATCH_*`` variables (see ``docs/batch.md``); the client reads
``BATCH_API_URL`` and ``BATCH_API_KEY``.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

from services.batch.client import commands as client_commands
from services.batch.settings import BatchSettings


def _logging(settings: BatchSettings, service: str, *stdlib: str) -> None:
    """Loguru lines (JSON by default) for our code and for the libraries' own loggers."""
    import logging

    from services.core.logs import configure_logging, intercept_stdlib_logging

    configure_logging(settings.log_level, settings.log_json, service=service)
    level = logging.getLevelName(settings.log_level.upper())
    intercept_stdlib_logging(*stdlib, level=level if isinstance(level, int) else logging.INFO)


def _spool_uploads_to_storage(settings: BatchSettings) -> None:
    """Multipart uploads are spooled by Starlette into temporary files: put those on the
    shared storage volume, not the pod's small ``/tmp`` (a 1 GiB tmpfs in the chart, which
    one large upload used to fill). The API process only, so its uploads alone move."""
    import tempfile

    spool = settings.storage_dir / "tmp"
    spool.mkdir(parents=True, exist_ok=True)
    tempfile.tempdir = str(spool)


def _api(args: argparse.Namespace) -> int:
    import uvicorn

    from services.batch.api.app import create_app
    from services.core.web.serving import server_options

    settings = BatchSettings()
    _logging(settings, "batch-api", "uvicorn", "uvicorn.error")
    _spool_uploads_to_storage(settings)
    uvicorn.run(
        create_app(settings),
        host=args.host or settings.host,
        port=args.port or settings.port,
        **server_options(),
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from prometheus_client import start_http_server

    from services.batch.worker import context as worker_context
    from services.batch.worker.supervisor import supervise
    from services.core.logs import logger
    from services.core.model_store import ModelLoadError

    settings = BatchSettings()
    _logging(settings, "batch-worker", "rq")
    from mlflow.exceptions import MlflowException
    from redis.exceptions import RedisError

    from services.batch.worker.startup import build_when_ready

    def waiting(exc: BaseException, left: float) -> None:
        logger.warning("waiting for the model ({:.0f} s left): {}", left, exc)

    try:
        context = build_when_ready(
            lambda: worker_context.build_context(settings),
            (ModelLoadError, MlflowException, RedisError, OSError),
            settings.model_wait_seconds,
            on_wait=waiting,
        )
    except (ModelLoadError, MlflowException, RedisError, OSError) as exc:
        logger.error("cannot start: {}", exc)
        return 2
    worker_context.install(context)
    for uri in context.models.held():
        model = context.models.get(uri)
        logger.info("model {} version {} loaded ({})", model.name, model.version, uri)
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port)
    name = args.name or f"batch-{socket.gethostname()}-{os.getpid()}"
    try:
        return supervise(context.backend, name, burst=args.burst, log_level=settings.log_level)
    finally:
        if context.decisions is not None:  # each chunk flushed its own; this ends the thread
            context.decisions.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m services.batch", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    commands = parser.add_subparsers(dest="command", required=True)
    api = commands.add_parser("api", help="serve the job API")
    api.add_argument("--host", help="bind address (default: BATCH_HOST or 0.0.0.0)")
    api.add_argument("--port", type=int, help="port (default: BATCH_PORT or 8001)")
    api.set_defaults(handler=_api)
    worker = commands.add_parser("worker", help="score chunk tasks from the queue")
    worker.add_argument("--burst", action="store_true", help="quit once the queue is empty")
    worker.add_argument("--name", help="worker name (default: batch-<host>-<pid>)")
    worker.set_defaults(handler=_worker)
    client_commands.add_commands(commands)
    from services.batch.demo import add_command

    add_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
