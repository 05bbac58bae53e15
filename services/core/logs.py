"""Loguru logging: one JSON object per line, with the request id of the current request."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any

from loguru import logger

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


def _add_request_id(record: Any) -> None:
    record["extra"].setdefault("request_id", request_id_var.get())


def configure_logging(level: str = "INFO", json: bool = True, service: str = "creditrisk") -> None:
    """Replace loguru's default sink; every line carries ``service`` and ``request_id``."""
    logger.remove()
    logger.configure(extra={"service": service}, patcher=_add_request_id)
    fmt = "{time:HH:mm:ss} {level:<7} [{extra[request_id]}] {message}"
    logger.add(sys.stderr, level=level.upper(), serialize=json, format=fmt, backtrace=False)


class InterceptHandler(logging.Handler):
    """Send standard-library log records (uvicorn, mlflow, ...) through loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        logger.bind(logger=record.name).opt(exception=record.exc_info).log(
            level, record.getMessage()
        )


def intercept_stdlib_logging(*names: str, level: int = logging.INFO) -> None:
    """Route the root logger and the named loggers (e.g. ``uvicorn``) into loguru, so
    every line of a server is one JSON object with its request id."""
    handler = InterceptHandler()
    logging.basicConfig(handlers=[handler], level=level, force=True)
    for name in names:
        named = logging.getLogger(name)
        named.handlers = [handler]
        named.propagate = False


__all__ = ["configure_logging", "intercept_stdlib_logging", "logger", "request_id_var"]
