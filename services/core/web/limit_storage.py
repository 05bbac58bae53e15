"""An in-process fixed-window counter store for slowapi/limits (scheme ``local://``).

Used when no Redis is configured, and as the fallback while Redis fails. limits' own
``memory://`` storage expires keys from a ``threading.Timer`` that it restarts every 10 ms
under load (about a hundred thread starts a second, each contending for the GIL), which
cost more than the rest of the request path together in our benchmark. This store
expires lazily instead: a key's window is checked when it is touched, and stale keys are
swept when the table grows. It is only touched from the event loop thread, so it needs
no locks.
"""

from __future__ import annotations

import time
from typing import Any

from limits.storage import Storage

MAX_KEYS = 10_000  # sweep expired windows once the table holds more keys than this


class LocalStorage(Storage):
    STORAGE_SCHEME = ["local"]  # noqa: RUF012 (the base class declares it this way)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        self._windows: dict[str, tuple[int, float]] = {}  # key -> (count, window end)
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return ValueError

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        count, ends = self._windows.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + expiry
            if len(self._windows) >= MAX_KEYS:
                self._sweep(now)
        self._windows[key] = (count + amount, ends)
        return count + amount

    def get(self, key: str) -> int:
        count, ends = self._windows.get(key, (0, 0.0))
        return count if ends > time.time() else 0

    def get_expiry(self, key: str) -> float:
        ends = self._windows.get(key, (0, 0.0))[1]
        return ends if ends > time.time() else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        cleared = len(self._windows)
        self._windows.clear()
        return cleared

    def clear(self, key: str) -> None:
        self._windows.pop(key, None)

    def _sweep(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
