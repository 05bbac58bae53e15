"""Background loop: load the model until it serves, then (optionally) follow the alias.

While no model serves, a load is retried every ``load_retry_seconds`` (the MLflow server
may start after us); so is a configured baseline model that failed to load. With
``reload_poll_seconds`` > 0 and a ``models:/name@alias`` URI, the alias is resolved every
interval and a moved alias triggers a reload; a version that was refused once is not
downloaded again until the alias moves on.
"""

from __future__ import annotations

import asyncio
import contextlib

import anyio.to_thread
from loguru import logger

from services.core.model_ref import ModelRef
from services.core.registry import resolve_version
from services.inference.runtime import ModelRuntime


class AliasWatcher:
    def __init__(self, runtime: ModelRuntime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self._task: asyncio.Task[None] | None = None
        self._refused: tuple[str, str] | None = None  # (uri, version) that failed to load

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="model-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            loaded = self.runtime.ready and not self.runtime.baseline_pending
            if loaded and not self.settings.reload_poll_seconds:
                return
            delay = (
                self.settings.reload_poll_seconds if loaded else self.settings.load_retry_seconds
            )
            await asyncio.sleep(delay)
            try:
                await self.tick()
            except Exception as exc:  # a registry hiccup must not end the loop
                logger.warning("model watcher: {}: {}", type(exc).__name__, exc)

    async def tick(self) -> None:
        if not self.runtime.ready:
            await self.runtime.reload()
            return
        if self.runtime.baseline_pending:
            await self.runtime.load_baseline()
        target = await self.alias_version()
        current = self.runtime.current
        if target is None or current is None or target == current.labels[1]:
            return
        if self._refused == (self.runtime.uri, target):
            return
        logger.info("alias {} moved to v{}: reloading", self.runtime.uri, target)
        status = await self.runtime.reload()
        self._refused = None if status.ok else (self.runtime.uri, target)

    async def alias_version(self) -> str | None:
        uri = self.runtime.uri
        if not uri.startswith("models:/") or "@" not in uri:
            return None
        ref = ModelRef.parse(uri)
        return await anyio.to_thread.run_sync(
            resolve_version, self.settings.mlflow_tracking_uri, ref
        )
