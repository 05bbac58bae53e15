"""The controller process of the scale benchmark: the real operator (kopf, ``controller/``)
configured from ``CONTROLLER_*`` and ``MLFLOW_TRACKING_URI`` like ``python -m controller``,
with the adapters its ``Runtime`` holds swapped for counting ones and every reconcile timed.

Touches ``--ready`` once the operator runs; on SIGTERM stops it and writes what it
counted to ``--stats`` (JSON). Its own process, so RSS and CPU are the controller's alone.

Run (by bench_scale.py): python -m bench.controller.scale_operator --ready F --stats F
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
import time
from pathlib import Path
from types import FrameType

from prometheus_client import REGISTRY

from bench.controller.clock import ConnectionClock, PhaseClock, PoolClock, QueueClock
from bench.controller.counting import (
    CountingKube,
    MetricsTally,
    RegistryTally,
    counting_factory,
)
from bench.controller.harness import Meter
from bench.controller.sampler import StackSampler
from controller.runtime import build_runtime
from controller.settings import ControllerSettings
from services.core.logs import configure_logging
from tests.integration.controller.cluster import Operator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--stats", type=Path, required=True)
    parser.add_argument("--sample", action="store_true", help="stack samples (diagnosis)")
    args = parser.parse_args()
    settings = ControllerSettings()
    configure_logging(settings.log_level, settings.log_json, "controller")
    runtime = build_runtime(settings)
    kube = runtime.kube = CountingKube.like(runtime.kube)
    if runtime.events is not None:
        runtime.events.kube = kube  # the Events' POSTs are counted too
    tally = MetricsTally()
    mlflow = RegistryTally().install()
    mlflow.wrap_tag(runtime.registry)
    runtime.metrics_source = counting_factory(runtime.metrics_source, tally)
    clock = PhaseClock().install(runtime.registry)
    clock.wrap(kube, "request", "api")  # API round trips of the tick thread itself
    writes = PoolClock().install(runtime.writes)
    runtime.ticks = queue_clock = QueueClock(settings.workers, starts=settings.start_workers)
    meter = Meter(clock).install()
    connections = ConnectionClock().install()
    threads = ("ThreadPool", "ticks", "reads", "promql")  # kopf's executor, the runtime's pools
    sampler = StackSampler(prefixes=threads).start() if args.sample else None
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    operator = Operator(runtime, tuple(settings.namespaces)).start()
    args.ready.write_text(str(time.time()))
    try:
        while not stop.wait(1.0):
            pass
    finally:
        operator.stop()
        meter.uninstall()
        clock.uninstall()
        connections.uninstall()
        if sampler is not None:
            sampler.stop()
        stats = {
            "reconcile_wall_s": meter.wall,
            "reconcile_cpu_s": meter.cpu,
            "reconcile_phase": meter.phases,
            "api_calls": dict(kube.calls),
            "api_unchanged_writes": dict(kube.unchanged),
            "event_reasons": dict(kube.event_reasons),
            "api_errors": dict(kube.errors),
            "mlflow_call_s": mlflow.seconds,
            "reconcile_phases_s": clock.tallies,
            "tick_wait_s": queue_clock.waits,
            "connection_wait_s": connections.waits,
            "writes_wait_s": writes.waits,
            "api_call_s": kube.seconds,
            "connections_opened": connections.opened,
            "connections_discarded": connections.discarded,
            "api_requests": kube.requests,
            "metrics_sources": tally.sources,
            "prometheus_probes": tally.http_probes(),
            "prometheus_online_calls": tally.probes,
            "prometheus_queries": tally.queries,
            "prometheus_query_s": tally.seconds,
            "mlflow_calls": dict(mlflow.calls),
            "mlflow_tags_asked": mlflow.tags_asked,
            "mlflow_repeated_tags": mlflow.repeated_tags,
            "mlflow_tags_written_at_once": mlflow.tags_written,
            "cache_reads": {
                f"{s.labels['resource']} {s.labels['result']}": s.value
                for m in REGISTRY.collect()
                if m.name == "modelrollout_controller_cache_reads"
                for s in m.samples
                if s.name.endswith("_total")
            },
            "cached_objects": len(kube.cache) if kube.cache is not None else 0,
            "idle_ticks": REGISTRY.get_sample_value("modelrollout_controller_idle_ticks_total"),
            "workers": settings.workers,
        }
        if sampler is not None:
            stats["stack_samples"] = sampler.report()
        args.stats.write_text(json.dumps(stats))


if __name__ == "__main__":
    main()
