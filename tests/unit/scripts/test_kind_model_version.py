"""scripts/kind/model_version.py reads the version the inference service's model info
answer names (found on the kind cluster: e2e.sh read a top-level "version" that ModelInfo
does not have, and the helm test printed "serving None vNone")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from services.inference.responses import ModelRef

pytestmark = pytest.mark.unit

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "kind" / "model_version.py"


def run(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT)], input=text, capture_output=True, text=True, check=False
    )


def test_reads_the_version_of_the_model_object() -> None:
    info = {
        "model": ModelRef(name="credit-default", version="2", track="stable").model_dump(),
        "uri": "x",
    }
    done = run(json.dumps(info))
    assert (done.returncode, done.stdout.strip()) == (0, "2")


@pytest.mark.parametrize(
    "text", ['{"version": "2"}', '{"model": {"version": ""}}', "not json", "[]"]
)
def test_no_version_fails_loudly(text: str) -> None:
    done = run(text)
    assert done.returncode == 1
    assert "no model version" in done.stderr
