"""Property-based pass over the OpenAPI document of the running service (schemathesis),
every check schemathesis has on (``tests.support.fuzzing.every_check``): generated valid
and invalid requests find no 5xx and no response that breaks the document (status,
content type, headers, body); valid requests are accepted (2xx) and invalid ones rejected
(4xx); every path answers its undocumented methods (``OPTIONS`` included) 405 with an
``Allow`` listing exactly its documented methods. The inference API creates no resources,
so it has no links and no stateful phase (that is the batch API's: submit → status →
results → cancel).

Operations are listed here (and checked against the document) rather than collected by
``schema.parametrize()``: the document depends on the model a fixture trains, and the
lazy ``from_fixture`` loader does not run under this pytest version.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import given
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, positive_data_acceptance

from services.core.decisions.settings import DecisionSettings
from services.inference.app import create_app
from tests.integration.inference.harness import ADMIN, AUTH, make_settings, running
from tests.support.fuzzing import (
    allow_failure,
    check_names,
    every_check,
    fuzz_settings,
    unsupported_methods,
    with_key,
)
from tests.support.models import TrainedModel
from tests.support.postgres import PostgresServer, postgres_server

pytestmark = pytest.mark.integration

MAX_EXAMPLES = 40  # per operation and mode: bounded so the suite stays quick
OPERATIONS = [
    ("POST", "/api/v1/predict"),
    ("POST", "/api/v1/predict/bulk"),
    ("GET", "/api/v1/model/info"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    DECISIONS := ("GET", "/api/v1/decisions/{request_id}"),  # admin key; record on
]


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def api_schema(
    credit_data_model: TrainedModel, pg: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> schemathesis.BaseSchema:
    """The served document of a model with numeric, categorical and nullable features.
    Loading it starts the app's lifespan, so the document has the real request schema.
    The decision record is on (a real PostgreSQL), so its look-up answers 200 or 404."""
    spool = Path(tmp_path_factory.mktemp("spool"))
    record = DecisionSettings(dsn=pg.dsn, spool_dir=spool, flush_seconds=0.05)
    app = create_app(make_settings(credit_data_model, bulk_max_rows=50), record)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def accepted(ctx: CheckContext, response: Any, case: schemathesis.Case) -> bool | None:
    """A valid request is answered 2xx; a well-formed request id may name no decision
    (404, documented)."""
    allowed = set(range(200, 300))
    if (case.method.upper(), case.path) == DECISIONS:
        allowed.add(404)
    if response.status_code not in allowed:
        raise AssertionError(f"valid request answered {response.status_code}: {response.text}")
    return None


def test_every_operation_is_fuzzed(api_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]  # type: ignore[union-attr]
    documented = {(op.method.upper(), op.path) for op in operations}
    assert documented == set(OPERATIONS) | {("POST", "/api/v1/admin/reload")}  # admin: test_reload


CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if p.startswith("/api")
]  # operations without inputs have no invalid requests to generate


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_operation_conforms_to_its_schema(
    api_schema: schemathesis.BaseSchema, method: str, path: str, mode: GenerationMode
) -> None:
    operation = api_schema[path][method]
    checks = every_check(mode, {positive_data_acceptance: accepted})
    key = ADMIN if (method, path) == DECISIONS else AUTH

    @given(case=operation.as_strategy(generation_mode=mode))
    @fuzz_settings(MAX_EXAMPLES)
    def run(case: schemathesis.Case) -> None:
        with_key(case, mode, key).call_and_validate(checks=checks)
        calls.append(1)

    calls: list[int] = []
    run()
    print(f"{method} {path} {mode.value}: {len(calls)} calls; {', '.join(check_names(checks))}")


async def test_undocumented_methods_answer_405_with_every_method_of_the_path(
    credit_data_model: TrainedModel,
) -> None:
    async with running(make_settings(credit_data_model, bulk_max_rows=50)) as service:
        document = (await service.client.get("/openapi.json")).json()
        requests = unsupported_methods(document)
        failures = [
            allow_failure(m, u, d, await service.client.request(m, u, headers=AUTH))
            for m, u, d in requests
        ]
    print(f"unsupported methods: {len(requests)} calls")
    assert requests
    assert [f for f in failures if f] == []
