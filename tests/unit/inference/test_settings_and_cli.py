"""Settings (env prefix, unprefixed aliases, refusals) and the command line."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
from pydantic import ValidationError

from services.core.web.bodies import is_json
from services.inference.__main__ import parse_args
from services.inference.settings import InferenceSettings

pytestmark = pytest.mark.unit


def test_env_prefix_and_well_known_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_URI", "models:/credit-default/3")
    monkeypatch.setenv("TRACK", "canary")
    monkeypatch.setenv("SHADOW", "true")
    monkeypatch.setenv("REDIS_URL", "redis://r:6379/0")
    monkeypatch.setenv("INFERENCE_BULK_MAX_ROWS", "50")
    digest = hashlib.sha256(b"k").hexdigest()
    monkeypatch.setenv("INFERENCE_API_KEY_HASHES", f'["{digest.upper()}"]')
    settings = InferenceSettings()
    assert settings.model_uri == "models:/credit-default/3"
    assert settings.track == "canary"
    assert settings.shadow
    assert settings.redis_url == "redis://r:6379/0"
    assert settings.bulk_max_rows == 50
    assert settings.api_key_hashes == [digest]
    monkeypatch.setenv("INFERENCE_MODEL_URI", "models:/x@champion")  # prefixed name wins
    assert InferenceSettings().model_uri == "models:/x@champion"


def test_defaults_are_safe() -> None:
    settings = InferenceSettings()
    assert settings.track == "stable"
    assert not settings.shadow  # a pod records its decisions unless told it is a shadow
    assert settings.bulk_max_rows == 1000
    assert not settings.faults_enabled
    assert settings.admin_key_hash == ""
    assert settings.drift_threshold == 0.2
    assert settings.reload_poll_seconds == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"track": "blue"},
        {"rate_limit": "lots"},
        {"admin_key_hash": "secret"},
        {"fault_error_rate": 1.5},
        {"bulk_max_rows": 0},
        {"environment": "production"},
        # fail-open doors: a blank digest used to pass "not empty" and then be dropped
        {"environment": "production", "api_key_hashes": [""]},
        {"environment": "production", "api_key_hashes": [" "]},
        {"api_key_hashes": [""]},
        {"api_key_hashes": ["abc"]},
    ],
)
def test_bad_or_unsafe_settings_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        InferenceSettings(**bad)  # type: ignore[arg-type]


def test_production_with_keys_is_accepted() -> None:
    digest = hashlib.sha256(b"k").hexdigest()
    settings = InferenceSettings(
        environment="production",
        api_key_hashes=[digest],  # type: ignore[arg-type]
        admin_key_hash=digest.upper(),
    )
    assert settings.is_production
    assert settings.admin_key_hash == digest


def test_flags_override_only_what_is_given() -> None:
    args = parse_args(
        [
            "--bulk-max-rows",
            "10",
            "--api-key-hashes",
            "a" * 64,
            "b" * 64,
            "--access-log",
            "true",
            "--track",
            "canary",
        ]
    )
    assert args == {
        "bulk_max_rows": "10",
        "api_key_hashes": ["a" * 64, "b" * 64],
        "access_log": True,
        "track": "canary",
    }
    settings = InferenceSettings(**args)
    assert settings.bulk_max_rows == 10
    assert settings.access_log


def test_help_lists_every_setting() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "services.inference", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    for name in InferenceSettings.model_fields:
        assert "--" + name.replace("_", "-") in out


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        ("application/merge-patch+json", True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        (None, False),
        ("", False),
    ],
)
def test_json_media_types(content_type: str | None, ok: bool) -> None:
    assert is_json(content_type) is ok
