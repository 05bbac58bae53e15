"""Bounded polling: every wait in the harness and the scenarios has a timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not hold in time (an AssertionError, so pytest shows it plainly)."""


def wait_for(
    probe: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = 0.2,
    describe: Callable[[], str] | None = None,
) -> T:
    """Call ``probe`` until it returns a truthy value (returned) or ``timeout`` seconds pass.

    Exceptions from ``probe`` count as "not yet" until the deadline; ``describe`` adds the
    state seen at the end to the failure message."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Exception as err:  # a probe may race with objects being created
            last_error = err
        if time.monotonic() >= deadline:
            detail = describe() if describe else ""
            error = f" (last error: {last_error!r})" if last_error else ""
            raise WaitTimeout(f"timed out after {timeout:.0f}s waiting for {what}{error}\n{detail}")
        time.sleep(interval)
