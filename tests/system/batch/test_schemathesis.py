"""Schemathesis over the OpenAPI document a live batch API process serves (uvicorn, real
Redis, a real worker), with more examples per operation than the per-service tests use.

Every operation is fuzzed with valid (positive) and, where it takes inputs, invalid
(negative) requests: no 5xx, no response that breaks the document (status, content type,
headers, body schema), invalid requests rejected with 4xx. Operations on a job get real
job ids part of the time (a succeeded job with an id column, one without), so results
come back as CSV, Parquet and JSON pages, not only 404s. The API's limits are small here
(JSON rows, upload size), so generated submissions that are accepted stay small jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    CheckContext,
    CheckFunction,
    negative_data_rejection,
    positive_data_acceptance,
)

from services.core.model_store import LoadedModel
from tests.support.fuzzing import fuzz_settings
from tests.support.models import TrainedModel
from tests.system import profile
from tests.system.batch.conftest import start_stack
from tests.system.batch.stack import AUTH, FINAL, BatchStack, wait_for

pytestmark = pytest.mark.system

EXAMPLES = profile.pick(100, 800)  # per operation and mode
MAX_JSON_ROWS = 50  # the API's limits here keep accepted generated jobs small
SUBMITS = {("POST", "/api/v1/jobs"), ("POST", "/api/v1/predict/batch")}
ON_A_JOB = [
    ("GET", "/api/v1/jobs/{job_id}"),
    ("GET", "/api/v1/predict/batch/{job_id}"),
    ("POST", "/api/v1/jobs/{job_id}/cancel"),
    ("GET", "/api/v1/jobs/{job_id}/results"),
]
PROBES = [("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")]
OPERATIONS = [*sorted(SUBMITS), ("GET", "/api/v1/jobs"), *ON_A_JOB, *PROBES]
ROWS = [
    {
        "loan_id": f"L{i}",
        "student": "Yes" if i % 3 else "No",
        "balance": 40.0 * i,
        "income": 900.0 * i,
    }
    for i in range(1, 31)
]


class Live:
    def __init__(self, stack: BatchStack, schema: schemathesis.BaseSchema, jobs: list[str]):
        self.stack, self.schema, self.jobs = stack, schema, jobs


@pytest.fixture(scope="module")
def live(default_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A stack with small limits, two succeeded jobs, and the document it serves."""
    root = tmp_path_factory.mktemp("batch-schemathesis")
    stack = start_stack(
        root, default_model, workers=1, max_json_rows=MAX_JSON_ROWS, max_upload_bytes=64 << 10
    )
    try:
        with stack.client() as client:
            jobs = [
                client.post("/api/v1/jobs", json={"rows": ROWS, "id_column": "loan_id"}),
                client.post(
                    "/api/v1/jobs",
                    content="student,balance,income\nNo,10.5,1000\nYes,99,20000\n",
                    headers={"Content-Type": "text/csv"},
                ),
            ]
            assert [r.status_code for r in jobs] == [202, 202], [r.text for r in jobs]
            ids = [str(r.json()["job_id"]) for r in jobs]

            def succeeded() -> bool:
                states = [client.get(f"/api/v1/jobs/{j}").json()["state"] for j in ids]
                assert all(s == "succeeded" for s in states if s in FINAL), states
                return all(s == "succeeded" for s in states)

            wait_for("the seed jobs to succeed", succeeded, 60, 0.2)
        schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json")
        yield Live(stack, schema, ids)
    finally:
        stack.stop()


def test_every_operation_is_fuzzed(live: Live) -> None:
    operations = [result.ok() for result in live.schema.get_all_operations()]  # type: ignore[union-attr]
    assert {(op.method.upper(), op.path) for op in operations} == set(OPERATIONS)


def submit_rejects_only_for_documented_reasons(
    ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """A submission the document allows is accepted, or refused for a documented reason
    about its body: malformed (400), over the limits (413), of another media type (415) or
    not what the model contract needs (422: the document cannot say which columns the
    served model wants) — never anything else."""
    assert response.status_code in (202, 400, 413, 415, 422), (response.status_code, response.text)
    return None


CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if (m, p) not in PROBES
]  # the probes take no inputs: there is no invalid request to make


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_operation_conforms_to_its_schema(
    live: Live, scoring_model: LoadedModel, method: str, path: str, mode: GenerationMode
) -> None:
    strategy = _strategy(live, scoring_model, method, path, mode)
    extra, excluded = _checks(method, path, mode)

    @given(case=strategy)
    @fuzz_settings(EXAMPLES)
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            headers=AUTH, additional_checks=[extra], excluded_checks=excluded, timeout=30
        )

    run()


def test_the_api_still_serves_and_every_accepted_generated_job_succeeds(live: Live) -> None:
    """After the fuzzing above (it runs first, in file order): the service is ready, and
    the jobs the valid generated submissions created all ran to success (none stuck,
    none failed)."""
    assert live.stack.ready()
    assert live.stack.api is not None
    assert live.stack.api.alive
    with live.stack.client() as client:

        def states() -> list[str]:
            listed = client.get("/api/v1/jobs", params={"limit": 1000}).json()
            return [str(job["state"]) for job in listed]

        wait_for("every generated job to end", lambda: all(s in FINAL for s in states()), 120)
        assert set(states()) == {"succeeded"}
        assert len(states()) > len(live.jobs)  # valid generated submissions did create jobs


def _strategy(
    live: Live, model: LoadedModel, method: str, path: str, mode: GenerationMode
) -> st.SearchStrategy[schemathesis.Case]:
    """The document's cases; positive ones on a job name a real job part of the time,
    positive submissions send contract-valid rows part of the time, and submissions use
    Idempotency-Keys of their own test only."""
    strategy = live.schema[path][method].as_strategy(generation_mode=mode)
    if mode is GenerationMode.POSITIVE and (method, path) in ON_A_JOB:
        strategy = st.one_of(strategy, st.tuples(strategy, st.sampled_from(live.jobs)).map(_on))
    if mode is GenerationMode.POSITIVE and (method, path) in SUBMITS:
        strategy = st.one_of(strategy, st.tuples(strategy, contract_rows(model)).map(_valid))
    if (method, path) in SUBMITS:
        strategy = strategy.map(partial(_own_keys, f"{mode.value}{path}:"))
    return strategy


def _checks(method: str, path: str, mode: GenerationMode) -> tuple[CheckFunction, list[Any]]:
    """The check added to the default ones, and the default ones left out."""
    if mode is GenerationMode.NEGATIVE:
        return negative_data_rejection, []
    if (method, path) in SUBMITS:
        return submit_rejects_only_for_documented_reasons, [positive_data_acceptance]
    return positive_data_acceptance, []


def _on(pair: tuple[schemathesis.Case, str]) -> schemathesis.Case:
    case, job_id = pair
    case.path_parameters = {**(case.path_parameters or {}), "job_id": job_id}
    return case


def _own_keys(prefix: str, case: schemathesis.Case) -> schemathesis.Case:
    """Idempotency-Keys of this test only: a key another test's request used would
    (by design) return that request's job whatever this body is."""
    for name, value in list((case.headers or {}).items()):
        if name.lower() == "idempotency-key":
            case.headers[name] = prefix + value  # type: ignore[index]
    return case


def contract_rows(model: LoadedModel) -> st.SearchStrategy[dict[str, Any]]:
    """JSON bodies of 1–50 rows the model contract accepts (with an id column half the
    time), so the fuzzed submissions also create, and run, real jobs."""
    columns: dict[str, st.SearchStrategy[Any]] = {}
    for spec in model.contract.features:
        if spec.is_categorical:
            value: st.SearchStrategy[Any] = st.sampled_from(spec.levels or [])
        else:
            value = st.floats(spec.min, spec.max, allow_nan=False, allow_infinity=False)
        columns[spec.name] = st.one_of(st.none(), value) if spec.nullable else value
    rows = st.lists(st.fixed_dictionaries(columns), min_size=1, max_size=MAX_JSON_ROWS)
    return st.tuples(rows, st.booleans()).map(_with_ids)


def _with_ids(pair: tuple[list[dict[str, Any]], bool]) -> dict[str, Any]:
    rows, ids = pair
    if not ids:
        return {"rows": rows}
    return {
        "rows": [{**row, "loan_id": f"L{i}"} for i, row in enumerate(rows)],
        "id_column": "loan_id",
    }


def _valid(pair: tuple[schemathesis.Case, dict[str, Any]]) -> schemathesis.Case:
    case, body = pair
    case.body, case.media_type = body, "application/json"
    return case
