"""scripts/kind/offline/runtime.sh on a fresh Docker engine that holds no image yet (after a
reboot): the privileged-container probe needs an image; the script used to pick one with a
``grep`` that matched nothing, and ``set -e`` ended it silently with status 1. It now makes
a probe image from the host's /bin/true. Checked with a ``docker`` stand-in on PATH that
records its calls (this is the script's own logic; the real engine ran it on the kind run).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
RUNTIME = REPO / "scripts" / "kind" / "offline" / "runtime.sh"

pytestmark = pytest.mark.unit

FAKE_DOCKER = """#!/bin/bash
printf '%s\\n' "$*" >> {calls}
case "$1" in
  image) {images} ;;
  import) cat > {imported} ;;
  run) exit 0 ;;
esac
"""


def _check(tmp_path: Path, images: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "docker"
    fake.parent.mkdir()
    fake.write_text(
        FAKE_DOCKER.format(calls=calls, images=images, imported=tmp_path / "imported.tar")
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("RUNTIME_PROBE_IMAGE", None)
    done = subprocess.run(
        ["bash", str(RUNTIME), "--check"], env=env, capture_output=True, text=True, timeout=60
    )
    return done, calls.read_text().splitlines() if calls.exists() else []


def test_an_empty_engine_gets_a_probe_image_made_of_the_hosts_true(tmp_path: Path) -> None:
    done, calls = _check(tmp_path, "true")  # `docker image ls` lists nothing
    assert done.returncode == 0, done.stderr
    assert any(c.startswith("import - creditrisk/runtime-probe:") for c in calls), calls
    run = [c for c in calls if c.startswith("run ")]
    assert run == [
        "run --rm --privileged --user 0 --entrypoint /bin/true creditrisk/runtime-probe:1"
    ]
    listed = subprocess.run(
        ["tar", "-tf", str(tmp_path / "imported.tar")], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "./bin/true" in listed


def test_a_local_image_is_probed_as_it_is(tmp_path: Path) -> None:
    done, calls = _check(tmp_path, "printf '<none>:<none>\\ncreditrisk/redis:dev\\n'")
    assert done.returncode == 0, done.stderr
    assert not any(c.startswith("import") for c in calls), calls
    assert "run --rm --privileged --user 0 --entrypoint /bin/true creditrisk/redis:dev" in calls
