"""Every process logs one compact JSON object per line: ours, and the libraries' loggers
(uvicorn, rq, kopf, MLflow, warnings) routed into the same sink."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from services.core.logs import logger, quiet_progress_bars, request_id_var
from tests.support.logs import PLAIN_LINE_LIMIT, captured, parsed, restored_logging

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MESSAGE = "model credit-default v3 loaded in 1s"  # 36 characters


def size(line: str) -> int:
    return len(line.encode()) + 1  # with its newline


def test_a_plain_message_is_one_small_flat_object() -> None:
    with captured(service="inference") as lines:
        logger.info(MESSAGE)
    [record] = parsed(lines)
    assert record == {
        "time": record["time"],
        "level": "INFO",
        "logger": __name__,
        "message": MESSAGE,
        "service": "inference",
    }
    assert TIME.match(record["time"]), record["time"]
    assert list(record)[:4] == ["time", "level", "logger", "message"]
    assert size(lines[0]) <= PLAIN_LINE_LIMIT, lines[0]


def test_the_request_id_is_there_inside_a_request_only() -> None:
    with captured() as lines:
        logger.info("outside")
        token = request_id_var.set("4f2c9a1e0b7d4c3a")
        try:
            logger.info("{} {} {} {:.1f} ms", "POST", "/api/v1/predict", 200, 3.21)
        finally:
            request_id_var.reset(token)
    outside, inside = parsed(lines)
    assert "request_id" not in outside
    assert inside["request_id"] == "4f2c9a1e0b7d4c3a"
    assert inside["message"] == "POST /api/v1/predict 200 3.2 ms"
    assert size(lines[1]) <= PLAIN_LINE_LIMIT, lines[1]


def test_bound_fields_are_top_level_with_their_types() -> None:
    with captured() as lines:
        event = logger.bind(route="/api/v1/predict", status=200, duration_ms=3.2, ok=True)
        event.info("request done")
        with logger.contextualize(job_id="3f2a"):
            logger.warning("job {} failed", "3f2a")
    request, job = parsed(lines)
    assert request["route"] == "/api/v1/predict"
    assert request["status"] == 200
    assert request["duration_ms"] == 3.2
    assert request["ok"] is True
    assert job["job_id"] == "3f2a"
    assert job["level"] == "WARNING"
    assert job["message"] == "job 3f2a failed"


def test_a_field_named_like_a_core_one_does_not_replace_it() -> None:
    with captured() as lines:
        logger.bind(message="bound", level=3, when=object).info("real")
    [record] = parsed(lines)
    assert record["message"] == "real"
    assert record["level"] == "INFO"
    assert record["extra_message"] == "bound"
    assert record["extra_level"] == 3
    assert record["when"] == "<class 'object'>"  # anything else as its str()


def _fail() -> None:
    raise ValueError("no such column: income")


def test_an_exception_is_one_field_on_the_same_line() -> None:
    with captured() as lines:
        try:
            _fail()
        except ValueError:
            logger.exception("scoring failed")
            logging.getLogger("uvicorn.error").exception("ASGI app failed")
    ours, stdlib = parsed(lines)
    for record in (ours, stdlib):
        assert record["level"] == "ERROR"
        error = record["exception"]
        assert error["type"] == "ValueError"
        assert error["message"] == "no such column: income"
        assert error["traceback"].startswith("Traceback (most recent call last):")
        assert 'raise ValueError("no such column: income")' in error["traceback"]
    assert ours["message"] == "scoring failed"
    assert stdlib["logger"] == "uvicorn.error"


def test_standard_logging_joins_the_sink_and_replaces_basic_config() -> None:
    with restored_logging():
        logging.basicConfig(level=logging.INFO, force=True)  # what the controller used to do
        with captured("INFO") as lines:
            assert not any(type(h) is logging.StreamHandler for h in logging.getLogger().handlers)
            logging.getLogger("uvicorn.error").info("Started server process [%d]", 42)
            logging.getLogger("uvicorn.error").debug("not at INFO")
    [record] = parsed(lines)
    assert record["logger"] == "uvicorn.error"
    assert record["message"] == "Started server process [42]"
    assert size(lines[0]) <= PLAIN_LINE_LIMIT


def test_rq_worker_lines_are_json_without_colours() -> None:
    from rq.logutils import setup_loghandlers

    rq_worker = logging.getLogger("rq.worker")
    with restored_logging():
        setup_loghandlers("INFO")  # a worker started before the set-up: rq's own handlers
        with captured() as lines:
            setup_loghandlers("INFO")  # as Worker.work(logging_level=...) does
            assert rq_worker.handlers == []
            rq_worker.info("*** Listening on %s...", "creditrisk-batch")
            rq_worker.warning("Cleaning registries for queue: %s", "creditrisk-batch")
    listening, cleaning = parsed(lines)
    assert listening["logger"] == "rq.worker"
    assert listening["message"] == "*** Listening on creditrisk-batch..."
    assert cleaning["level"] == "WARNING"


def test_kopf_object_lines_carry_the_object_and_stay_small() -> None:
    import kopf
    from kopf._core.actions.loggers import ObjectLogger

    body = kopf.Body(
        {
            "apiVersion": "creditrisk.io/v1",
            "kind": "ModelRollout",
            "metadata": {"namespace": "credit", "name": "credit-default", "uid": "u-1"},
        }
    )
    with captured(service="controller") as lines:
        ObjectLogger(body=body, settings=kopf.OperatorSettings()).info(
            "Handler 'reconcile' succeeded."
        )
        logging.getLogger("kopf.activities.startup").info("Activity 'configure' succeeded.")
    rollout, startup = parsed(lines)
    assert rollout["logger"] == "kopf.objects"
    assert rollout["object"] == "credit/credit-default"
    assert rollout["message"] == "Handler 'reconcile' succeeded."
    assert "settings" not in rollout
    assert "k8s_ref" not in rollout
    assert startup["logger"] == "kopf.activities.startup"
    assert "object" not in startup
    assert all(size(line) <= PLAIN_LINE_LIMIT for line in lines), lines


def test_probes_and_outgoing_requests_are_not_logged_at_info() -> None:
    with captured("INFO") as lines:
        logging.getLogger("aiohttp.access").info('127.0.0.1 "GET /healthz HTTP/1.1" 200')
        logging.getLogger("httpx").info("HTTP Request: GET http://prometheus/api/v1/query")
        logging.getLogger("aiohttp.access").warning("kept")
    assert [r["message"] for r in parsed(lines)] == ["kept"]
    with captured("DEBUG") as lines:
        logging.getLogger("httpx").debug("HTTP Request: GET http://prometheus/api/v1/query")
    assert [r["logger"] for r in parsed(lines)] == ["httpx"]


def test_mlflow_loggers_and_prints_join_the_sink() -> None:
    from mlflow.utils import logging_utils

    with restored_logging():
        logging_utils._configure_mlflow_loggers("mlflow")  # what `import mlflow` does
        assert logging.getLogger("mlflow").handlers
        stream = logging_utils.MLFLOW_LOGGING_STREAM
        try:
            with captured() as lines:
                assert os.environ["MLFLOW_CONFIGURE_LOGGING"] == "false"
                logging.getLogger("mlflow.store.db.utils").info("Updating database tables")
                logging.getLogger("alembic.runtime.migration").info("Running upgrade a -> b")
                logging_utils.eprint("Successfully registered model 'credit-default'.")
                logging_utils.eprint("Created version '1' of model 'credit-default'.")
        finally:
            logging_utils.MLFLOW_LOGGING_STREAM = stream
    assert [(r["logger"], r["message"]) for r in parsed(lines)] == [
        ("mlflow.store.db.utils", "Updating database tables"),
        ("mlflow", "Successfully registered model 'credit-default'."),
        ("mlflow", "Created version '1' of model 'credit-default'."),
    ]


def test_warnings_are_one_line_with_their_source() -> None:
    with captured() as lines, warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("Inferred schema contains integer column(s)", UserWarning, stacklevel=1)
    [record] = parsed(lines)
    assert record["logger"] == "py.warnings"
    assert record["level"] == "WARNING"
    assert record["message"] == "UserWarning: Inferred schema contains integer column(s)"
    assert record["source"].startswith(__file__)


def test_text_mode_is_short_and_plain_off_a_terminal() -> None:
    stream = io.StringIO()
    with restored_logging():
        from services.core.logs import configure_logging

        configure_logging("INFO", json=False, service="demo", stream=stream)
        logger.info(MESSAGE)
    line = stream.getvalue()
    assert line.endswith(f" INFO    [-] {MESSAGE}\n")
    assert "\x1b[" not in line


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "preset", "expected"),
    [
        (io.StringIO(), {}, {"1", "false", "true"}),
        (_Terminal(), {}, {None}),
        (io.StringIO(), {"TQDM_DISABLE": "0"}, {"0", "false", "true"}),
    ],
    ids=["pipe", "terminal", "user-setting-wins"],
)
def test_progress_bars_are_off_unless_on_a_terminal(
    stream: io.StringIO, preset: dict[str, str], expected: set[str | None]
) -> None:
    names = [
        "TQDM_DISABLE",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR",
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT",
    ]
    with restored_logging():
        for name in names:
            os.environ.pop(name, None)
        os.environ.update(preset)
        quiet_progress_bars(stream)
        assert {os.environ.get(name) for name in names} == expected


def test_a_process_set_up_off_a_terminal_draws_no_tqdm_bar() -> None:
    code = (
        "from services.core.logs import configure_logging, logger\n"
        "configure_logging('INFO', True, 'trainer')\n"
        "from tqdm import tqdm\n"
        "for _ in tqdm(range(3)): pass\n"
        "logger.info('done')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    [record] = parsed(proc.stderr.splitlines())
    assert record["message"] == "done"
    assert proc.stdout == ""


def test_passwords_in_urls_never_reach_a_line() -> None:
    uri = "http://mlflow-user:s3cret-pw@mlflow:5000"
    with captured() as lines:
        logger.info("cannot load model: API request to {}/api/2.0/x failed", uri)
        logger.bind(target="redis://:s3cret-pw@redis:6379/0").warning("Redis unavailable")
        try:
            raise ConnectionError(f"API request to {uri}/api/2.0/mlflow failed")
        except ConnectionError:
            logging.getLogger("mlflow.utils.rest_utils").exception("request failed")
    records = parsed(lines)
    assert not any("s3cret" in line for line in lines), lines
    assert "http://mlflow-user:***@mlflow:5000/api/2.0/x" in records[0]["message"]
    assert records[1]["target"] == "redis://:***@redis:6379/0"
    assert records[2]["exception"]["message"].startswith("API request to http://mlflow-user:***@")


def test_text_mode_hides_passwords_too() -> None:
    stream = io.StringIO()
    with restored_logging():
        from services.core.logs import configure_logging

        configure_logging("INFO", json=False, stream=stream)
        logger.info("MLflow at {} is down", "https://u:s3cret-pw@mlflow.example")
    assert "s3cret" not in stream.getvalue()
    assert "https://u:***@mlflow.example is down" in stream.getvalue()
