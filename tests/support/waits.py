"""Bounded waits on a state or an event: the suite's one way to wait for something.

A test never sleeps for "long enough": it polls a probe of the state it needs until the
probe holds or a deadline passes, and then fails with what it waited for and the last
value the probe saw. (A sleep that deliberately lets time pass, to show that something
does *not* happen meanwhile, is not a wait and says so in a comment.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


def wait_for(
    what: str,
    probe: Callable[[], Any],
    timeout: float = 60.0,
    interval: float = 0.1,
    ignore: tuple[type[Exception], ...] = (),
) -> Any:
    """Call ``probe`` until it returns a truthy value (returned) or ``timeout`` seconds
    pass (AssertionError naming ``what`` and the last value). Exceptions in ``ignore``
    count as "not yet" (e.g. an object still being created)."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        try:
            last = probe()
            if last:
                return last
        except ignore as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last=!r})")
        time.sleep(interval)


async def wait_for_async(
    what: str,
    probe: Callable[[], Awaitable[Any]],
    timeout: float = 60.0,  # noqa: ASYNC109 (a polling deadline, not a cancel scope)
    interval: float = 0.1,
) -> Any:
    """:func:`wait_for` for a coroutine probe, inside an event loop."""
    deadline, last = time.monotonic() + timeout, None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} ({last=!r})")
        await asyncio.sleep(interval)
