"""The stack sampler of the controller scale benchmark (diagnosis only)."""

from __future__ import annotations

import threading

import pytest

from bench.controller.sampler import StackSampler
from controller.prometheus import run_all

pytestmark = pytest.mark.unit


def test_a_sample_counts_the_controller_functions_a_reconcile_thread_is_in() -> None:
    release, entered = threading.Event(), threading.Event()

    def wait() -> bool:
        entered.set()
        return release.wait(5)

    inside = threading.Thread(
        target=run_all, args=([wait],), name="ThreadPoolExecutor-9_0", daemon=True
    )
    idle = threading.Thread(target=release.wait, name="ThreadPoolExecutor-9_1", daemon=True)
    other = threading.Thread(target=run_all, args=([release.wait],), name="other", daemon=True)
    for thread in (inside, idle, other):
        thread.start()
    entered.wait(5)
    sampler = StackSampler()
    sampler.take()
    release.set()
    report = sampler.report()
    assert report["samples"] == 1  # not the idle pool thread, not a thread of another name
    assert report["inclusive"]["controller.prometheus:run_all"] == 1.0
    assert report["self"] == {"threading:wait": 1.0}
