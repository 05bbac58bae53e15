"""Hypothesis settings shared by the schemathesis runs against the services."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def fuzz_settings(examples: int) -> settings:
    """``examples`` cases, no deadline (real servers answer at their own pace), no example
    database (every run starts fresh), no health checks (the strategies come from the
    OpenAPI document, not from the test)."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
