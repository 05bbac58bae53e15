"""``services.core.registry.tag_version`` on a real SQLite registry: the tags a decision
asks for are read and set in one transaction (``set_version_tags``), not one call each."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from services.core.registry import client, sql_store, tag_version

pytestmark = pytest.mark.integration


@pytest.fixture
def tracking_uri(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registry = client(uri)
    registry.create_registered_model("m")
    model = tmp_path / "model"
    model.mkdir()
    registry.create_model_version("m", str(model))
    registry.set_model_version_tag("m", "1", "trainer", "x")
    return uri


def test_a_sql_store_takes_the_tags_in_one_transaction(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sql_store(client(tracking_uri)) is not None
    one_by_one: list[str] = []
    original = MlflowClient.set_model_version_tag

    def counted(self: MlflowClient, name: str, version: str, key: str, value: str) -> None:
        one_by_one.append(key)
        original(self, name, version, key, value)

    monkeypatch.setattr(MlflowClient, "set_model_version_tag", counted)
    wanted = {"verdict": "promoted", "reason": "Promoted", "analyses": "3"}
    assert tag_version(tracking_uri, "m", "1", wanted) == 3
    assert one_by_one == []  # no per-tag call
    held = client(tracking_uri).get_model_version("m", "1").tags
    assert held == wanted | {"trainer": "x"}  # other tags left as they are

    assert tag_version(tracking_uri, "m", "1", wanted) == 0  # a repeated decision
    assert tag_version(tracking_uri, "m", "1", wanted | {"analyses": "4"}) == 1
    assert client(tracking_uri).get_model_version("m", "1").tags["analyses"] == "4"


def test_an_invalid_tag_or_an_unknown_version_writes_nothing(tracking_uri: str) -> None:
    with pytest.raises(MlflowException, match="Invalid value"):
        tag_version(tracking_uri, "m", "1", {"good": "1", "bad/../key": "2"})
    with pytest.raises(MlflowException, match="not found"):
        tag_version(tracking_uri, "m", "7", {"good": "1", "other": "2"})
    assert client(tracking_uri).get_model_version("m", "1").tags == {"trainer": "x"}
