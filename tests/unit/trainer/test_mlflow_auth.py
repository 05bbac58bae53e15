"""The MLflow identity bootstrap's inputs: every password from the environment, three
distinct users, only the admin an admin (the stores themselves are exercised for real in
tests/security/test_mlflow_chart_auth.py)."""

from __future__ import annotations

import pytest

from services.trainer.mlflow_auth import identities

pytestmark = pytest.mark.unit

ENV = {
    "MLFLOW_AUTH_ADMIN_PASSWORD": "a" * 16,
    "MLFLOW_AUTH_READER_USERNAME": "reader",
    "MLFLOW_AUTH_READER_PASSWORD": "r" * 16,
    "MLFLOW_AUTH_WRITER_USERNAME": "writer",
    "MLFLOW_AUTH_WRITER_PASSWORD": "w" * 16,
}


def test_identities_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    found = identities("admin")
    assert [(i.username, i.is_admin) for i in found] == [
        ("admin", True),
        ("reader", False),
        ("writer", False),
    ]
    assert [i.password for i in found] == ["a" * 16, "r" * 16, "w" * 16]


@pytest.mark.parametrize("missing", sorted(ENV))
def test_a_missing_secret_value_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, "" if name == missing else value)
    with pytest.raises(SystemExit, match=missing):
        identities("admin")


def test_the_reader_cannot_be_the_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**ENV, "MLFLOW_AUTH_READER_USERNAME": "admin"}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit, match="different usernames"):
        identities("admin")
