"""Loguru logging: one JSON object per line, with the request id of the current request."""

from __future__ import annotations

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


__all__ = ["configure_logging", "logger", "request_id_var"]
