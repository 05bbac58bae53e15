"""The real operator (``python -m controller``'s registration and runtime, ``CONTROLLER_*``
settings) that, once kopf runs, queues ``--events`` Kubernetes Events about one ModelRollout
on its background queue and touches ``--ready``, for the shutdown test (which then sends
SIGTERM).

Run (by test_shutdown_events.py): python -m tests.integration.controller.queued_operator
    --events N --name NAME --ready FILE
"""

from __future__ import annotations

import argparse
import threading
from datetime import UTC, datetime
from pathlib import Path

import kopf

from controller.events import event
from controller.handlers import register
from controller.runtime import build_runtime
from controller.settings import ControllerSettings
from services.core.logs import configure_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--name", required=True, help="the involved ModelRollout's name")
    parser.add_argument("--ready", type=Path, required=True)
    args = parser.parse_args()
    settings = ControllerSettings()
    configure_logging(settings.log_level, settings.log_json, "controller")
    runtime = build_runtime(settings)
    assert runtime.events is not None
    namespace = settings.namespaces[0]
    rollout = {"metadata": {"name": args.name, "namespace": namespace, "uid": "test-uid"}}
    ready = threading.Event()

    def queue_then_touch() -> None:
        if not ready.wait(60) or runtime.events is None:
            return
        now = datetime.now(UTC)
        for i in range(args.events):
            body = event(rollout, "Normal", "Queued", f"event {i}", now)
            assert runtime.events.post(namespace, body)
        args.ready.write_text("ready")

    threading.Thread(target=queue_then_touch, daemon=True).start()
    kopf.run(
        registry=register(kopf.OperatorRegistry(), settings),
        memo=kopf.Memo(runtime=runtime),
        standalone=True,
        namespaces=settings.namespaces,
        ready_flag=ready,
    )


if __name__ == "__main__":
    main()
