"""Schemathesis over the OpenAPI document of a live inference process (real uvicorn, real
sockets), with more examples per operation than the in-process integration pass
(``tests/integration/inference/test_schemathesis.py``): every operation, the admin reload
included (with the admin key), in positive and negative mode.

Every check schemathesis has is on (``tests.support.fuzzing.every_check``): no 5xx,
status code, content type, headers and body as documented, a request without its key is
refused (``ignored_auth``), required headers, ``Allow``. Valid requests are accepted (2xx;
the reload may also answer 409, since a well-formed ``uri`` rarely names a loadable
model); invalid ones are rejected with a 4xx. Every path answers its undocumented methods
405 with an ``Allow`` listing exactly its documented methods. No stateful phase: the
inference API creates no resources, so its document has no links to follow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import given
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, positive_data_acceptance

from tests.support.fuzzing import (
    check_names,
    every_check,
    fuzz_settings,
    unsupported_method_failures,
    with_key,
)
from tests.support.models import TrainedModel
from tests.support.postgres import postgres_server
from tests.system import profile
from tests.system.inference.servers import ADMIN, AUTH, InferenceProcess

pytestmark = pytest.mark.system

MAX_EXAMPLES = profile.pick(150, 1000)  # per operation and mode
RELOAD = ("POST", "/api/v1/admin/reload")
DECISIONS = ("GET", "/api/v1/decisions/{request_id}")  # admin key; the record is on
OPERATIONS = [
    ("POST", "/api/v1/predict"),
    ("POST", "/api/v1/predict/bulk"),
    ("GET", "/api/v1/model/info"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    RELOAD,
    DECISIONS,
]
ADMIN_OPERATIONS = (RELOAD, DECISIONS)
WITH_INPUT = [op for op in OPERATIONS if op[1].startswith("/api/")]
CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in WITH_INPUT
]  # the probes take no input, so there is no invalid request to make of them


@pytest.fixture(scope="module")
def live(
    credit_data_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InferenceProcess]:
    """Numeric, categorical and nullable features; bulk capped at 50 rows; the decision
    record on (a real PostgreSQL)."""
    with postgres_server() as pg:
        workdir = tmp_path_factory.mktemp("schemathesis")
        server = InferenceProcess(
            workdir, credit_data_model.uri, credit_data_model.tracking_uri, bulk_max_rows=50
        )
        server.env.update(DECISIONS_DSN=pg.dsn, DECISIONS_SPOOL_DIR=str(workdir / "spool"))
        server.start()
        server.wait_ready()
        yield server
        server.stop()
        print(server.tail())


@pytest.fixture(scope="module")
def api_schema(live: InferenceProcess) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[union-attr]
    assert {(op.method.upper(), op.path) for op in operations} == set(OPERATIONS)


def accepted(ctx: CheckContext, response: Any, case: schemathesis.Case) -> bool | None:
    """A valid request is answered 2xx (a reload also 409: refused, old model serving; a
    decision look-up also 404: no decision under that id)."""
    op = (case.method.upper(), case.path)
    allowed = {200, 409} if op == RELOAD else set(range(200, 300))
    if op == DECISIONS:
        allowed.add(404)  # a well-formed request id that names no decision
    if response.status_code not in allowed:
        raise AssertionError(f"valid request answered {response.status_code}: {response.text}")
    return None


def touches_local_files(case: schemathesis.Case, cwd: Path) -> bool:
    """A reload ``uri`` naming an existing path loads (or walks) local folders by design
    (e.g. ``/`` is a recursive search of the whole filesystem); those are not fuzzed."""
    uri = case.body.get("uri") if isinstance(case.body, dict) else None
    if not isinstance(uri, str):
        return False
    if uri.strip().lower().startswith("file:"):
        return True
    try:
        return (cwd / uri).exists()
    except (OSError, ValueError):
        return False


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_operation_conforms_to_its_schema(
    api_schema: schemathesis.BaseSchema,
    live: InferenceProcess,
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    headers = ADMIN if (method, path) in ADMIN_OPERATIONS else AUTH
    checks = every_check(mode, {positive_data_acceptance: accepted})
    strategy = api_schema[path][method].as_strategy(generation_mode=mode)
    if (method, path) == RELOAD:
        strategy = strategy.filter(lambda case: not touches_local_files(case, live.workdir))

    @given(case=strategy)
    @fuzz_settings(MAX_EXAMPLES)
    def run(case: schemathesis.Case) -> None:
        response = with_key(case, mode, headers).call_and_validate(base_url=live.url, checks=checks)
        statuses[response.status_code] += 1

    statuses: Counter[int] = Counter()
    run()
    print(f"{method} {path} {mode.value}: {sum(statuses.values())} calls, statuses {statuses}")
    print(f"checks: {', '.join(check_names(checks))}")
    assert live.alive(), live.tail()


def test_undocumented_methods_answer_405_with_every_method_of_the_path(
    live: InferenceProcess,
) -> None:
    with httpx.Client(base_url=live.url, headers=AUTH, timeout=30) as client:
        document = client.get("/openapi.json").json()
        calls, failures = unsupported_method_failures(document, client.request)
    print(f"unsupported methods: {calls} calls")
    assert calls > 0
    assert not failures, failures
