"""A wall-clock stack sampler for the scale benchmark's controller process (diagnosis only,
off by default): every ``period`` seconds it looks at the stack of every reconcile thread
and counts, per function, the samples whose stack contains it (inclusive) and those where
it is the innermost frame (self). A thread waiting on a socket is counted where it waits;
one waiting for the GIL where it will resume, so the figures say where the wall time of
the reconciles goes, not the CPU time alone."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from types import FrameType
from typing import Any

KEEP = ("controller", "kopf", "urllib3", "httpx", "httpcore", "mlflow", "sqlalchemy", "json")


def _name(frame: FrameType) -> str:
    code = frame.f_code
    path = code.co_filename
    for part in KEEP:
        marker = f"/{part}/"
        if marker in path:
            tail = path.split(marker, 1)[1].removesuffix(".py").replace("/", ".")
            return f"{part}.{tail}:{code.co_name}"
    name = path.rsplit("/", 1)[-1].removesuffix(".py")
    return f"{name}:{code.co_name}"


class StackSampler:
    def __init__(self, period: float = 0.02, prefixes: tuple[str, ...] = ("ThreadPool",)) -> None:
        self.period, self.prefixes = period, prefixes
        self.samples = 0
        self.inclusive: Counter[str] = Counter()
        self.leaf: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def start(self) -> StackSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _wanted(self) -> set[int]:
        return {
            t.ident
            for t in threading.enumerate()
            if t.ident is not None and t.name.startswith(self.prefixes)
        }

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.take()

    def take(self) -> None:
        """One sample of every wanted thread that is inside the controller's code."""
        wanted = self._wanted()
        for ident, frame in sys._current_frames().items():
            if ident not in wanted:
                continue
            names: list[str] = []
            walk: FrameType | None = frame
            while walk is not None:
                names.append(_name(walk))
                walk = walk.f_back
            if not any(n.startswith("controller.") for n in names):
                continue  # an idle pool thread
            self.samples += 1
            self.leaf[names[0]] += 1
            self.inclusive.update(set(names))

    def report(self, top: int = 40) -> dict[str, Any]:
        def share(counter: Counter[str]) -> dict[str, float]:
            total = max(self.samples, 1)
            return {k: round(v / total, 3) for k, v in counter.most_common(top)}

        inclusive, leaf = share(self.inclusive), share(self.leaf)
        return {"samples": self.samples, "inclusive": inclusive, "self": leaf}
