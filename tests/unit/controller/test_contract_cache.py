"""The contract cache of the MLflow adapter: one load per version however many rollouts
ask at once, and a hit never waits for another version's load."""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from controller.mlflow_adapter import ContractCache, store_lock

pytestmark = pytest.mark.unit

DEADLINE = 10.0  # seconds any thread of these tests may take


class Loads:
    """A loader whose loads of the versions in ``held`` block until ``release``."""

    def __init__(self, held: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, str]] = []
        self.started = threading.Event()
        self.release = threading.Event()
        self.held = held
        self._lock = threading.Lock()

    def __call__(self, name: str, version: str) -> Any:
        with self._lock:
            self.calls.append((name, version))
        if version in self.held:
            self.started.set()
            assert self.release.wait(DEADLINE), "the test never released the load"
        return f"contract {name} v{version}"


def _run(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_rollouts_asking_together_load_a_version_once() -> None:
    loads = Loads(held=("3",))
    cache = ContractCache(loads)
    found: list[Any] = []
    threads = [_run(lambda: found.append(cache.get("m", "3"))) for _ in range(8)]
    assert loads.started.wait(DEADLINE), "no load started"
    loads.release.set()
    for thread in threads:
        thread.join(DEADLINE)
        assert not thread.is_alive(), "a reader never got the contract"
    assert found == ["contract m v3"] * 8
    assert loads.calls == [("m", "3")]
    assert cache.loads == 1


def test_a_hit_and_another_version_do_not_wait_for_a_slow_load() -> None:
    loads = Loads(held=("9",))
    cache = ContractCache(loads)
    assert cache.get("m", "1") == "contract m v1"
    slow = _run(lambda: cache.get("m", "9"))
    assert loads.started.wait(DEADLINE), "the slow load never started"
    assert cache.get("m", "1") == "contract m v1"  # a hit, while v9 is loading
    assert cache.get("m", "2") == "contract m v2"  # another version loads beside it
    loads.release.set()
    slow.join(DEADLINE)
    assert not slow.is_alive(), "the slow load never finished"
    assert loads.calls == [("m", "1"), ("m", "9"), ("m", "2")]


def test_the_least_recently_used_contract_goes_first() -> None:
    loads = Loads()
    cache = ContractCache(loads, size=2)
    cache.get("m", "1")
    cache.get("m", "2")
    cache.get("m", "1")  # v1 used last: v2 is the one dropped
    cache.get("m", "3")
    cache.get("m", "1")
    cache.get("m", "2")
    assert loads.calls == [("m", "1"), ("m", "2"), ("m", "3"), ("m", "2")]


def test_a_failed_load_is_tried_again_by_the_next_reader() -> None:
    attempts: list[str] = []

    def flaky(name: str, version: str) -> Any:
        attempts.append(version)
        if len(attempts) == 1:
            raise OSError("store down")
        return "contract"

    cache = ContractCache(flaky)
    with pytest.raises(OSError, match="store down"):
        cache.get("m", "1")
    assert cache.get("m", "1") == "contract"
    assert attempts == ["1", "1"]


def test_a_sqlite_store_is_called_in_turn_a_server_side_by_side() -> None:
    """SQLite takes one writer at a time (the others sleep in its busy handler)."""
    sqlite = store_lock("sqlite:///tmp/mlflow.db")
    assert isinstance(sqlite, type(threading.Lock()))
    assert isinstance(store_lock("http://mlflow:5000"), contextlib.nullcontext)
    assert isinstance(store_lock("postgresql://db/mlflow"), contextlib.nullcontext)


def test_a_contract_load_does_not_wait_for_the_sqlite_store_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Loads are reads: the cold loads of many versions do not queue behind the writes."""
    import controller.mlflow_adapter as adapter

    monkeypatch.setattr(adapter, "version_contract", lambda uri, name, v: f"contract {v}")
    registry = adapter.ModelRegistry("sqlite:///unused.db")
    found: list[Any] = []
    with registry._store:  # a tag write under way
        loader = _run(lambda: found.append(registry.contract("models:/m/3")))
        loader.join(DEADLINE)
        assert not loader.is_alive(), "the load waited for the store lock"
    assert found == ["contract 3"]


def _drain(pool: ThreadPoolExecutor) -> None:
    pool.shutdown(wait=True)  # every queued warm has run


def test_a_warm_loads_in_the_background_once_and_a_reader_then_hits() -> None:
    loads = Loads()
    cache = ContractCache(loads)
    pool = ThreadPoolExecutor(max_workers=2)
    assert cache.warm("m", "3", pool)
    _drain(pool)
    assert loads.calls == [("m", "3")]
    assert not cache.warm("m", "3", ThreadPoolExecutor(max_workers=1))  # held: not queued
    assert cache.get("m", "3") == "contract m v3"
    assert loads.calls == [("m", "3")]  # the reader found it loaded


def test_a_reader_asking_during_a_warm_shares_that_one_load() -> None:
    loads = Loads(held=("4",))
    cache = ContractCache(loads)
    pool = ThreadPoolExecutor(max_workers=2)
    assert cache.warm("m", "4", pool)
    assert loads.started.wait(DEADLINE), "the warm never started"
    assert not cache.warm("m", "4", pool)  # in flight: not queued twice
    found: list[Any] = []
    reader = _run(lambda: found.append(cache.get("m", "4")))
    loads.release.set()
    reader.join(DEADLINE)
    assert not reader.is_alive(), "the reader never got the contract"
    _drain(pool)
    assert found == ["contract m v4"]
    assert loads.calls == [("m", "4")]


def test_a_failed_warm_is_dropped_and_the_reader_meets_the_error() -> None:
    attempts: list[str] = []

    def down(name: str, version: str) -> Any:
        attempts.append(version)
        raise OSError("store down")

    cache = ContractCache(down)
    pool = ThreadPoolExecutor(max_workers=1)
    assert cache.warm("m", "1", pool)
    _drain(pool)
    with pytest.raises(OSError, match="store down"):
        cache.get("m", "1")
    assert attempts == ["1", "1"]
    assert cache.warm("m", "1", ThreadPoolExecutor(max_workers=1))  # may be warmed again


def test_a_warm_on_a_stopped_pool_queues_nothing() -> None:
    cache = ContractCache(Loads())
    pool = ThreadPoolExecutor(max_workers=1)
    pool.shutdown()
    assert not cache.warm("m", "1", pool)
    assert cache.warm("m", "1", ThreadPoolExecutor(max_workers=1))  # not left marked


def test_the_registry_warms_pinned_versions_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Aliases (a registry call to resolve) and local folders are left to the check."""
    import controller.mlflow_adapter as adapter

    loaded: list[str] = []

    def contract(uri: str, name: str, version: str) -> str:
        loaded.append(f"{name}/{version}")
        return f"contract {version}"

    monkeypatch.setattr(adapter, "version_contract", contract)
    registry = adapter.ModelRegistry("sqlite:///unused.db")
    pool = ThreadPoolExecutor(max_workers=2)
    uris = ["models:/m/1", "models:/m/3", "models:/m/1", "models:/m@champion", "/models/x", None]
    assert registry.warm(uris, pool) == 2
    _drain(pool)
    assert sorted(loaded) == ["m/1", "m/3"]
    assert registry.contract("models:/m/3") == "contract 3"
    assert registry.contract("models:/m/1") == "contract 1"
    assert sorted(loaded) == ["m/1", "m/3"]  # the check's reads loaded nothing more
