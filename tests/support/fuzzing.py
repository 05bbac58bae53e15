"""What the schemathesis runs against the services share: Hypothesis settings, every
check schemathesis has, and the unsupported-method pass over a document."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    CHECKS,
    CheckFunction,
    load_all_checks,
    negative_data_rejection,
    positive_data_acceptance,
)

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE")
PLACEHOLDER = "0" * 32  # a well-formed path parameter (a job id) naming nothing


def fuzz_settings(examples: int, steps: int | None = None) -> settings:
    """``examples`` cases (``steps`` calls per stateful scenario), no deadline (real servers
    answer at their own pace), no example database (every run starts fresh), no health
    checks (the strategies come from the OpenAPI document, not from the test)."""
    base = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    return base if steps is None else settings(base, stateful_step_count=steps)


def every_check(
    mode: GenerationMode, replace: dict[CheckFunction, CheckFunction] | None = None
) -> list[CheckFunction]:
    """Every check schemathesis registers, except the data check of the other mode (a
    valid request must be accepted, an invalid one rejected); ``replace`` swaps a check
    for a stricter or better-informed one of the test's."""
    load_all_checks()
    other = negative_data_rejection if mode is GenerationMode.POSITIVE else positive_data_acceptance
    swaps = replace or {}
    found: list[Any] = CHECKS.get_all()
    return [swaps.get(check, check) for check in found if check is not other]


def check_names(checks: list[CheckFunction]) -> list[str]:
    return [check.__name__ for check in checks]


def unsupported_methods(document: dict[str, Any]) -> list[tuple[str, str, set[str]]]:
    """Every path of the document with every method it does not document, as requests
    ``(method, url, documented methods)``: each must answer 405 with an ``Allow`` listing
    exactly the documented methods (RFC 9110; see ``allow_failure``). Schemathesis's own
    ``unsupported_method`` check runs only in its CLI coverage phase, so tests do this."""
    out = []
    for path, operations in document["paths"].items():
        documented = {m.upper() for m in operations if m.upper() in METHODS}
        url = re.sub(r"\{[^}]+\}", PLACEHOLDER, path)
        out += [(method, url, documented) for method in METHODS if method not in documented]
    return out


def allow_failure(method: str, url: str, documented: set[str], response: Any) -> str | None:
    """What is wrong with the answer to an undocumented method, if anything."""
    allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
    if response.status_code == 405 and allow == documented:
        return None
    return f"{method} {url}: {response.status_code}, Allow {sorted(allow)}"


def unsupported_method_failures(
    document: dict[str, Any], request: Callable[[str, str], Any]
) -> tuple[int, list[str]]:
    """``unsupported_methods`` sent with ``request(method, url)``: (requests, failures)."""
    requests = unsupported_methods(document)
    failures = [allow_failure(m, u, d, request(m, u)) for m, u, d in requests]
    return len(requests), [f for f in failures if f is not None]


def with_key(case: Any, mode: GenerationMode, key: dict[str, str]) -> Any:
    """The case with the real API key: always for a valid request; for an invalid one
    only if the case sends the key header at all (a case that leaves the declared key
    out is a request the API must refuse with 401, so it is sent as it is)."""
    headers = dict(case.headers or {})
    names = {name.lower(): name for name in headers}
    for header, value in key.items():
        if mode is GenerationMode.POSITIVE or header.lower() in names:
            headers.pop(names.get(header.lower(), header), None)
            headers[header] = value
    case.headers = headers
    return case
