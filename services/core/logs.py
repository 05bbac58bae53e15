"""Logging for every process: one compact JSON object per line.

    {"time":"2026-12-03T16:02:11.204Z","level":"INFO","logger":"services.batch.tasks",
     "message":"job 3f2a done","service":"batch-worker","job_id":"3f2a"}

``time`` (UTC, milliseconds), ``level``, ``logger`` (the module, or the standard-library
logger's name), ``message``, then ``service``, ``request_id`` (only inside a request) and
every field bound with ``logger.bind(...)``/``contextualize(...)`` at top level. An
exception adds ``"exception": {"type", "message", "traceback"}`` (the traceback as one
string), so a line is always one line. Standard-library loggers (uvicorn, rq, kopf,
MLflow, alembic, warnings) are routed into the same sink, and progress bars are turned
off when stderr is not a terminal.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

from loguru import logger

if TYPE_CHECKING:
    from loguru import Message

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

TEXT_FORMAT = "{time:HH:mm:ss} {level:<7} [{extra[request_id]}] {message}"
#: Loggers that their library gives their own handler (and ``propagate = False``); they are
#: pointed back at the root logger so their lines reach the JSON sink too.
OWN_HANDLER_LOGGERS = ("mlflow", "alembic", "sqlalchemy.engine", "huey", "rq.worker")
#: Library loggers too chatty at INFO: schema migrations, SQL, kopf's liveness probes
#: (aiohttp), every outgoing request (httpx: the controller's Prometheus queries).
QUIET_LOGGERS = dict.fromkeys(
    ("alembic", "sqlalchemy.engine", "aiohttp.access", "httpx"), logging.WARNING
)

Sink: TypeAlias = "TextIO | Callable[[Message], None]"


#: The password of a URL (``http://user:password@host``, ``redis://:password@host``).
URL_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@")


def redact(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return URL_PASSWORD.sub(r"\1***@", text) if "@" in text else text


def _patch(record: Any) -> None:
    record["extra"].setdefault("request_id", request_id_var.get())
    record["message"] = redact(record["message"])


def _exception(record: Any) -> dict[str, str] | None:
    error = record["exception"]
    if error is None or error.type is None:
        return None
    lines = traceback.format_exception(error.type, error.value, error.traceback)
    return {
        "type": error.type.__name__,
        "message": redact(str(error.value)),
        "traceback": redact("".join(lines)),
    }


def json_line(record: Any) -> str:
    """The JSON object (no newline) for a loguru record."""
    extra = dict(record["extra"])
    extra.pop("_line", None)
    if extra.get("request_id") in (None, "-"):
        extra.pop("request_id", None)
    stamp = record["time"].astimezone(UTC)
    line: dict[str, Any] = {
        "time": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
        "level": record["level"].name,
        "logger": extra.pop("logger", None) or record["name"],
        "message": record["message"],
    }
    ordered = {key: extra.pop(key) for key in ("service", "request_id") if key in extra}
    for key, value in {**ordered, **extra}.items():
        line[f"extra_{key}" if key in line else key] = (
            redact(value) if isinstance(value, str) else value
        )
    error = _exception(record)
    if error is not None:
        line["exception"] = error
    return json.dumps(line, ensure_ascii=False, separators=(",", ":"), default=str)


def _json_format(record: Any) -> str:
    record["extra"]["_line"] = json_line(record)
    return "{extra[_line]}\n"


def quiet_progress_bars(stream: object = None) -> None:
    """No progress bars (tqdm's, MLflow's artifact bars) and no MLflow run links on stdout
    unless ``stream`` (default stderr) is a terminal. Environment variables the user set
    win; these are defaults."""
    target = sys.stderr if stream is None else stream
    isatty = getattr(target, "isatty", None)
    if callable(isatty) and isatty():
        return
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")


def configure_logging(
    level: str = "INFO",
    json: bool = True,
    service: str = "creditrisk",
    stream: Sink | None = None,
) -> None:
    """Replace loguru's default sink with one writing to ``stream`` (default stderr): JSON
    lines (``json=True``) or short human-readable ones. Every line carries ``service`` and,
    inside a request, ``request_id``. Standard-library logging goes to the same sink at the
    same level."""
    target: Sink = sys.stderr if stream is None else stream
    logger.remove()
    logger.configure(extra={"service": service}, patcher=_patch)
    if json:
        logger.add(
            target,
            level=level.upper(),
            format=_json_format,
            colorize=False,
            backtrace=False,
            diagnose=False,
        )
    else:
        logger.add(target, level=level.upper(), format=TEXT_FORMAT, backtrace=False, diagnose=False)
    quiet_progress_bars(target)
    intercept_stdlib_logging(level=_stdlib_level(level))


def _stdlib_level(level: str) -> int:
    number = logging.getLevelName(level.upper())
    return number if isinstance(number, int) else logging.INFO


class InterceptHandler(logging.Handler):
    """Send standard-library log records (uvicorn, rq, kopf, mlflow, ...) through loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        fields: dict[str, Any] = {"logger": record.name}
        ref = getattr(record, "k8s_ref", None)  # kopf's per-object loggers
        if isinstance(ref, dict) and ref.get("name"):
            namespace = ref.get("namespace")
            fields["object"] = f"{namespace}/{ref['name']}" if namespace else ref["name"]
        logger.bind(**fields).opt(exception=record.exc_info).log(level, record.getMessage())


def intercept_stdlib_logging(*names: str, level: int | None = None) -> None:
    """Route the root logger into loguru, and the named loggers (e.g. ``uvicorn``) too, so
    every line of a process is one JSON object. ``level`` (default: the one
    ``configure_logging`` chose) applies to the root logger.

    Other handlers on the root logger (pytest's capture) stay; plain stream handlers
    (``basicConfig``'s) go. Libraries that install their own handler (MLflow, rq) are
    pointed back at the root, and MLflow is told not to do it again on import."""
    handler = InterceptHandler()
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not _replaceable(h)] + [handler]
    if level is not None:
        root.setLevel(level)
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    for name in OWN_HANDLER_LOGGERS:
        library = logging.getLogger(name)
        library.handlers = []
        library.propagate = True
    for name, quiet in QUIET_LOGGERS.items():  # at DEBUG, they say everything
        logging.getLogger(name).setLevel(logging.NOTSET if root.level <= logging.DEBUG else quiet)
    warnings.showwarning = _log_warning
    route_mlflow_prints()
    for name in names:
        named = logging.getLogger(name)
        named.handlers = []
        named.propagate = True


def _log_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.warn`` as one log line (instead of two plain lines on stderr)."""
    logger.bind(logger="py.warnings", source=f"{filename}:{lineno}").warning(
        "{}: {}", category.__name__, message
    )


class _LinesToLogger:
    """A text stream that logs each line it is given (at INFO) to a standard logger."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pending = ""

    def write(self, text: str) -> int:
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            if line.strip():
                logging.getLogger(self.name).info(line.strip())
        return len(text)

    def flush(self) -> None:
        return None


STREAM = "MLFLOW_LOGGING_STREAM"


def route_mlflow_prints() -> None:
    """MLflow prints some events ("Successfully registered model ...") to stderr with its
    own ``eprint``; once MLflow is imported, make those log lines of the ``mlflow`` logger.
    Call it again after importing MLflow if it was not imported yet."""
    utils = sys.modules.get("mlflow.utils.logging_utils")
    if utils is not None and not isinstance(getattr(utils, STREAM, None), _LinesToLogger):
        setattr(utils, STREAM, _LinesToLogger("mlflow"))


def _replaceable(handler: logging.Handler) -> bool:
    return isinstance(handler, InterceptHandler) or type(handler) is logging.StreamHandler


__all__ = [
    "InterceptHandler",
    "configure_logging",
    "intercept_stdlib_logging",
    "json_line",
    "logger",
    "quiet_progress_bars",
    "request_id_var",
    "route_mlflow_prints",
]
