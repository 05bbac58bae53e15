"""``services.core.registry.tag_version``: one read of the version's tags, then only the
tags missing or different are set (MLflow sets one tag per call) — against a stand-in
client that records its calls."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import services.core.registry as registry
from services.core.registry import changed_tags, tag_version

pytestmark = pytest.mark.unit


class Client:
    def __init__(self, tags: dict[str, str]) -> None:
        self.tags, self.calls = dict(tags), list[str]()

    def get_model_version(self, name: str, version: str) -> Any:
        self.calls.append("get")
        return SimpleNamespace(tags=dict(self.tags))

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.calls.append(f"set {key}")
        self.tags[key] = value


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Client:
    found = Client({"a": "1", "b": "old", "trainer": "x"})
    monkeypatch.setattr(registry, "client", lambda uri: found)
    return found


def test_changed_tags_are_those_missing_or_different() -> None:
    assert changed_tags({"a": "1", "b": "2"}, {"a": "1", "b": "3", "c": "4"}) == {
        "b": "3",
        "c": "4",
    }
    assert changed_tags({}, {"a": "1"}) == {"a": "1"}
    assert changed_tags({"a": "1"}, {}) == {}


def test_only_the_differing_tags_are_written(store: Client) -> None:
    wanted = {"a": "1", "b": "new", "c": "3"}
    assert tag_version("uri", "m", "2", wanted) == 2
    assert store.calls == ["get", "set b", "set c"]
    assert store.tags == {"a": "1", "b": "new", "c": "3", "trainer": "x"}  # same final tags


def test_a_repeated_decision_writes_nothing(store: Client) -> None:
    tag_version("uri", "m", "2", {"a": "1", "b": "new"})
    store.calls.clear()
    assert tag_version("uri", "m", "2", {"a": "1", "b": "new"}) == 0
    assert store.calls == ["get"]


def test_a_single_tag_is_set_without_the_read(store: Client) -> None:
    assert tag_version("uri", "m", "2", {"a": "1"}) == 1
    assert store.calls == ["set a"]
    assert tag_version("uri", "m", "2", {}) == 0


def test_a_tracking_server_or_a_stand_in_has_no_sql_store(store: Client) -> None:
    """Then the tags go one call each (above); only a SQL store takes them at once."""
    from services.core.registry import _client, sql_store

    assert sql_store(store) is None
    assert sql_store(_client("http://mlflow.invalid:5000")) is None
