"""Attack/robustness: an oversized body must end in a 413 the client can read, whatever
order the client writes and reads in; the server reads at most a bounded amount of it.

On the old main the 413 was sent without reading the body, so a client that writes its
whole body first (Python's urllib) got a connection reset instead of the answer."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from services.inference.app import create_app
from tests.integration.inference.harness import API_KEY, LiveServer, make_settings
from tests.support.models import TrainedModel

pytestmark = pytest.mark.integration


def _post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "X-API-Key": API_KEY},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.parametrize("size", [64 * 1024, 4 * 1024 * 1024])
def test_a_client_that_writes_first_reads_the_413(default_model: TrainedModel, size: int) -> None:
    app = create_app(make_settings(default_model, max_body_bytes=2048))
    with LiveServer(app) as server:
        body = b'{"applicants": [' + b" " * size + b"]}"
        for _ in range(3):  # and the server keeps answering
            status, answer = _post(f"{server.url}/api/v1/predict/bulk", body)
            assert status == 413
            assert answer["error"]["code"] == "payload_too_large"
