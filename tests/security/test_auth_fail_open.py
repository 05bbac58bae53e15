"""Auth must not fail open: a blank or malformed key digest stops the service at start-up.

On the old main, ``API_KEY_HASHES='[""]'`` passed production's "not empty" check, the blank
digest was then dropped, and a request without a key was served as ``anonymous``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from services.core.web.auth import ApiKeyAuth

pytestmark = pytest.mark.unit

ENTRYPOINTS = {
    "inference": ([sys.executable, "-m", "services.inference"], "INFERENCE_"),
    "batch": ([sys.executable, "-m", "services.batch", "api"], "BATCH_"),
}


@pytest.mark.parametrize("service", sorted(ENTRYPOINTS))
@pytest.mark.parametrize("digests", ['[""]', '[" "]', '["not-a-digest"]'])
def test_service_refuses_to_start_with_a_blank_digest(service: str, digests: str) -> None:
    argv, prefix = ENTRYPOINTS[service]
    env = {**os.environ, f"{prefix}ENVIRONMENT": "production", f"{prefix}API_KEY_HASHES": digests}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "API key digests must be 64 hex characters" in done.stderr


@pytest.mark.parametrize("digests", [[""], ["  "], ["abc"]])
def test_the_dependency_refuses_blank_digests_too(digests: list[str]) -> None:
    with pytest.raises(ValueError, match="SHA-256"):
        ApiKeyAuth(digests)


def test_no_digests_is_the_only_way_to_turn_auth_off() -> None:
    assert ApiKeyAuth([]).check(None) == "anonymous"
