"""Capture the log lines of :func:`services.core.logs.configure_logging` in a test, and put
the process-wide logging state (loguru, the root logger, MLflow's, warnings, environment)
back afterwards."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator
from typing import Any
from unittest import mock

from loguru import logger

from services.core.logs import OWN_HANDLER_LOGGERS, QUIET_LOGGERS, configure_logging

PLAIN_LINE_LIMIT = 300  # bytes, for a message of up to ~60 characters without fields


@contextlib.contextmanager
def restored_logging() -> Iterator[None]:
    names = [*OWN_HANDLER_LOGGERS, *QUIET_LOGGERS, "uvicorn", "uvicorn.error", "rq"]
    loggers = [logging.getLogger(name) for name in ["", *names]]
    saved = [(one, list(one.handlers), one.level, one.propagate) for one in loggers]
    showwarning = warnings.showwarning
    try:
        with mock.patch.dict(os.environ):
            yield
    finally:
        warnings.showwarning = showwarning
        for one, handlers, level, propagate in saved:
            one.handlers = handlers
            one.setLevel(level)
            one.propagate = propagate
        logger.remove()
        logger.configure(extra={}, patcher=lambda record: None)
        logger.add(sys.stderr)


@contextlib.contextmanager
def messages_logged(level: str) -> Iterator[list[str]]:
    """The messages (text only) logged through loguru at ``level`` or above inside the
    block, whatever sinks are configured."""
    messages: list[str] = []
    sink = logger.add(lambda m: messages.append(m.record["message"]), level=level)
    try:
        yield messages
    finally:
        logger.remove(sink)


@contextlib.contextmanager
def captured(level: str = "INFO", service: str = "test", json: bool = True) -> Iterator[list[str]]:
    """The lines logged inside the block, each without its newline."""
    lines: list[str] = []
    with restored_logging():
        configure_logging(level, json, service, stream=lambda message: lines.append(message))
        yield lines
    lines[:] = [line.rstrip("\n") for line in lines]


def parsed(lines: list[str]) -> list[dict[str, Any]]:
    """Each line as one JSON object; fails on anything else (a second line, ANSI codes)."""
    records = []
    for line in lines:
        text = line.rstrip("\n")
        assert "\n" not in text, text
        assert "\x1b[" not in text, text
        records.append(json.loads(text))
    return records
