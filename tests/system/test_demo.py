"""`make demo` end to end: the whole story runs, says what happened, and leaves nothing
running — when it finishes and when it is interrupted with Ctrl-C mid-rollout.

Every process the demo starts inherits ``DEMO_RUN_ID`` in its environment (the control
plane, kwok, Prometheus, the operator, Redis, each pod's inference process), so a scan of
``/proc/*/environ`` finds any that outlived it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support.controlplane import binaries_missing
from tests.support.models import tracking_uri_for

pytestmark = pytest.mark.system
REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO = REPO_ROOT / "scripts" / "demo.py"


def demo_env(tmp_path: Path) -> dict[str, str]:
    assert not binaries_missing(), "run `make controlplane` (make test does)"
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")},
        "MLFLOW_TRACKING_URI": tracking_uri_for(tmp_path / "mlflow"),
        "DEMO_WORKDIR": str(tmp_path / "demo"),
        "DEMO_RUN_ID": uuid.uuid4().hex,
    }


def survivors(run_id: str) -> list[str]:
    """Command lines of live processes started by the demo run ``run_id``."""
    marker = f"DEMO_RUN_ID={run_id}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if marker in (proc / "environ").read_bytes().split(b"\0"):
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                state = (proc / "stat").read_text().split(") ", 1)[1][:1]
                if state != "Z":
                    found.append(f"{proc.name}: {cmdline[:160]}")
        except OSError:
            continue  # gone meanwhile, or not ours to read
    return found


def wait_gone(run_id: str, timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := survivors(run_id)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return left


def test_demo_tells_the_whole_story_and_leaves_nothing_running(tmp_path: Path) -> None:
    env = demo_env(tmp_path)
    done = subprocess.run(
        [sys.executable, str(DEMO)],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = done.stdout
    assert done.returncode == 0, out[-4000:] + done.stderr[-4000:]
    for step in range(1, 8):
        assert f"=== {step}. " in out, f"step {step} missing:\n{out[-3000:]}"
    assert out.count("/api/v1/predict  {") == 3, "three applicants scored"
    assert "Declined: the principal reasons" in out
    reasons = out.split("Declined: the principal reasons", 1)[1]
    assert "log-odds)" in reasons.split("Its decision record:", 1)[0], "a reason statement"
    assert '"decisions":[{' in reasons, "the declined applicant's decision record looked up"
    assert "scored 100,000 applicants" in out
    for expected in ("Promoted: ", "Succeeded (Promoted)", "RolledBack: ", "errorRatio"):
        assert expected in out, f"{expected!r} missing:\n{out[-3000:]}"
    assert "Failed (FailedChecks)" in out
    assert "ShadowStarted: " in out, "v2's rollout starts with a shadow phase"
    assert "ShadowPassed: " in out
    assert "shadow Passed: " in out, "the shadow figures in the timeline"
    assert "v2 tagged rollout.verdict=promoted" in out
    assert "v3 tagged rollout.verdict=rolled_back" in out
    assert "stable   requests" in out
    stable_failures = [line for line in out.splitlines() if line.strip().startswith("stable")]
    assert all(line.rstrip().endswith(" 0") for line in stable_failures), stable_failures
    assert wait_gone(env["DEMO_RUN_ID"]) == []


def test_ctrl_c_mid_rollout_stops_everything(tmp_path: Path) -> None:
    env = {**demo_env(tmp_path), "DEMO_BATCH_ROWS": "1000"}
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-u", str(DEMO)],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
            # started as a background job of a shell would be: SIGINT ignored on entry, so
            # the demo must install its own handler for Ctrl-C to work
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        )
    try:
        deadline = time.monotonic() + 600
        while "kubectl apply ModelRollout" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        assert survivors(env["DEMO_RUN_ID"]), "the cluster and pods run mid-rollout"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert code == 130, log.read_text()[-3000:]
    assert "interrupted: everything the demo started has been stopped" in log.read_text()
    assert wait_gone(env["DEMO_RUN_ID"]) == [], log.read_text()[-2000:]
