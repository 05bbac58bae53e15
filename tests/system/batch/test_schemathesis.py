"""Schemathesis over the OpenAPI document a live batch API process serves (uvicorn, real
Redis, a real worker), with more examples per operation than the per-service tests use.

Every operation is fuzzed with valid (positive) and, where it takes inputs, invalid
(negative) requests under every check schemathesis has (``tests.support.fuzzing``): no
5xx; status, content type, headers and body as documented; a request without its key
refused; valid requests accepted and invalid ones rejected with 4xx. The JSON submission
schema is generated from the served contract, so valid JSON rows are accepted (202) — the
only refusals a valid request may get are the ones JSON Schema cannot state (see
``accepted``). Every path answers its undocumented methods 405 with the full ``Allow``.
Then the stateful phase walks the document's links: submit → status → results → cancel.

Operations on a job get real job ids part of the time (a succeeded job with an id column,
one without), so results come back as CSV, Parquet and JSON pages, not only 404s. The
API's limits are small here (JSON rows, upload size), so accepted generated submissions
stay small jobs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext, CheckFunction, positive_data_acceptance

from services.core.model_store import LoadedModel
from tests.support.fuzzing import (
    check_names,
    every_check,
    fuzz_settings,
    unsupported_method_failures,
    with_key,
)
from tests.support.models import TrainedModel
from tests.system import profile
from tests.system.batch.conftest import start_stack
from tests.system.batch.stack import AUTH, FINAL, BatchStack, wait_for

pytestmark = pytest.mark.system

EXAMPLES = profile.pick(100, 800)  # per operation and mode
SCENARIOS, STEPS = profile.pick(30, 200), profile.pick(6, 12)  # stateful phase
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


def accepted(
    ctx: CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """``positive_data_acceptance`` told what JSON Schema cannot say. A valid request is
    answered 2xx, except:

    - on a job: 404 (no such job: an id is just 32 hex digits) and 409 (the job's state
      does not allow it, e.g. results of a running job);
    - a submission: 413 (a body over ``max_upload_bytes``), 422 ``idempotency_key_reused``
      (the key was sent before with another body), and 422 for what only the served data
      decides: a file that is not a table the contract accepts (raw or multipart bodies are
      opaque bytes in the document), a ``path`` that names no allowed file, an
      ``id_column`` that is not a column of the rows.
    """
    status, method, path = response.status_code, case.method.upper(), case.path
    if 200 <= status < 300:
        return None
    if (method, path) in ON_A_JOB and status in (404, 409):
        return None
    if (method, path) in SUBMITS:
        error = response.json().get("error", {}) if status in (413, 422) else {}
        body = case.body if isinstance(case.body, dict) else None
        json_body = case.media_type == "application/json" and body is not None
        message = str(error.get("message", ""))
        if status == 413 or error.get("code") == "idempotency_key_reused":
            return None
        if status == 422 and not json_body:
            return None  # a file's content: the document says "binary"
        if status == 422 and body is not None and json_body and "path" in body:
            return None  # whether a file exists at path
        if status == 422 and json_body and "is not in the rows" in message:
            return None  # id_column must name a column of the rows
    raise AssertionError(f"valid request answered {status}: {response.text[:500]}")


CASES = [(m, p, GenerationMode.POSITIVE) for m, p in OPERATIONS] + [
    (m, p, GenerationMode.NEGATIVE) for m, p in OPERATIONS if (m, p) not in PROBES
]  # the probes take no inputs: there is no invalid request to make


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_operation_conforms_to_its_schema(
    live: Live, scoring_model: LoadedModel, method: str, path: str, mode: GenerationMode
) -> None:
    strategy = _strategy(live, scoring_model, method, path, mode)
    checks = every_check(mode, {positive_data_acceptance: accepted})

    @given(case=strategy)
    @fuzz_settings(EXAMPLES)
    def run(case: schemathesis.Case) -> None:
        response = with_key(case, mode, AUTH).call_and_validate(checks=checks, timeout=30)
        statuses[response.status_code] += 1

    statuses: Counter[int] = Counter()
    run()
    print(f"{method} {path} {mode.value}: {sum(statuses.values())} calls, {dict(statuses)}")
    print(f"checks: {', '.join(check_names(checks))}")


def test_undocumented_methods_answer_405_with_every_method_of_the_path(live: Live) -> None:
    with live.stack.client() as client:
        document = client.get("/openapi.json").json()
        calls, failures = unsupported_method_failures(document, client.request)
    print(f"unsupported methods: {calls} calls")
    assert not failures, failures


def test_the_stateful_phase_walks_submit_status_results_cancel(live: Live) -> None:
    """Scenarios that follow the document's links from a submission (202) to the job's
    status, results and cancel, every check on (``use_after_free``: a cancelled or
    expired job is not served as if it were there; ``ensure_resource_availability``: a
    job just created can be read)."""
    workflow = live.schema.as_state_machine()
    steps: Counter[str] = Counter()

    class Walk(workflow):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"timeout": 30}

        def call(self, case: schemathesis.Case, **kwargs: Any) -> schemathesis.Response:
            mode = case.meta.generation.mode if case.meta else GenerationMode.POSITIVE
            return with_key(case, mode, AUTH).call(**kwargs)

        def validate_response(
            self,
            response: schemathesis.Response,
            case: schemathesis.Case,
            additional_checks: list[CheckFunction] | None = None,
            **kwargs: Any,
        ) -> None:
            mode = case.meta.generation.mode if case.meta else GenerationMode.POSITIVE
            checks = every_check(mode, {positive_data_acceptance: accepted})
            steps[f"{case.method.upper()} {case.path} {response.status_code}"] += 1
            case.validate_response(response, checks=checks, transport_kwargs=kwargs)

    Walk.run(settings=fuzz_settings(SCENARIOS, steps=STEPS))
    print(f"stateful: {sum(steps.values())} calls: {dict(steps)}")
    linked = {key.rsplit(" ", 1)[0] for key in steps}
    assert {"POST /api/v1/jobs/{job_id}/cancel", "GET /api/v1/jobs/{job_id}/results"} <= linked


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
        assert set(states()) <= {"succeeded", "cancelled"}  # cancelled by the stateful phase
        assert "succeeded" in states()
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
