"""The per-version cache batch workers score with (and the batch API keeps contracts in):
least recently used dropped first, a load only on a miss, a failed load leaves nothing.
And pinning a model URI without a registry call where none is needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.core.registry import PinnedModel, is_local, pin
from services.core.version_cache import VersionCache

pytestmark = pytest.mark.unit


class Loader:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, key: str) -> str:
        self.calls.append(key)
        if key.endswith("/gone"):
            raise LookupError(key)
        return f"model of {key}"


def test_a_version_is_loaded_once_and_then_served_from_the_cache() -> None:
    load = Loader()
    cache = VersionCache(load, size=2)
    assert cache.get("models:/m/1") == "model of models:/m/1"
    assert cache.get("models:/m/1") == "model of models:/m/1"
    assert load.calls == ["models:/m/1"]
    assert cache.loads == 1


def test_the_least_recently_used_version_is_dropped_first() -> None:
    load = Loader()
    cache = VersionCache(load, size=2)
    cache.get("models:/m/1")
    cache.get("models:/m/2")
    cache.get("models:/m/1")  # 1 is now the most recent: 2 goes first
    cache.get("models:/m/3")
    assert cache.held() == ["models:/m/1", "models:/m/3"]
    cache.get("models:/m/2")  # loaded again
    assert load.calls == ["models:/m/1", "models:/m/2", "models:/m/3", "models:/m/2"]
    assert cache.held() == ["models:/m/3", "models:/m/2"]


def test_a_failed_load_keeps_nothing_and_is_tried_again_next_time() -> None:
    load = Loader()
    cache = VersionCache(load, size=1)
    cache.get("models:/m/1")
    with pytest.raises(LookupError):
        cache.get("models:/m/gone")
    assert cache.held() == ["models:/m/1"]  # the held version was not dropped for nothing
    with pytest.raises(LookupError):
        cache.get("models:/m/gone")
    assert load.calls.count("models:/m/gone") == 2


def test_a_cache_holds_at_least_one_version() -> None:
    with pytest.raises(ValueError, match="at least one"):
        VersionCache(Loader(), size=0)


def test_fixed_versions_runs_and_folders_pin_to_themselves_without_a_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = "http://127.0.0.1:9"  # any registry call would fail
    assert pin(unreachable, "models:/credit-default/7") == PinnedModel(
        "models:/credit-default/7", "7", "credit-default"
    )
    assert pin(unreachable, "runs:/abc123/model") == PinnedModel("runs:/abc123/model", "run")
    monkeypatch.chdir(tmp_path)  # a relative folder is pinned as its absolute path
    assert pin(unreachable, "model") == PinnedModel(str(tmp_path / "model"), "local")
    assert is_local("/models/m")
    assert not is_local("s3://b/m")
    assert not is_local("runs:/r/m")
