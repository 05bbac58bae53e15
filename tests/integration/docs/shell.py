"""Run README commands as a user's shell session would: ``bash`` with ``set -euo
pipefail``, variables carried from one command to the next, ``&`` commands as background
processes that are stopped (with their process group) at the end."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from tests.integration.docs.readme import Command

# ServiceUnavailable from the API server for a request on a CRD created seconds ago: the
# MutatingAdmissionPolicy of the chart (action-by) learns a new CRD's schema from the
# OpenAPI document, which it re-reads every 5 s, so a first annotate right after `helm
# install` can meet it. Nothing was written; the same command succeeds moments later.
CRD_NOT_YET = "There can be a delay between when CustomResourceDefinitions are created"
CRD_SETTLE = 60.0


class Shell:
    def __init__(
        self, cwd: Path, env: Mapping[str, str], subs: Mapping[str, str], state: Path
    ) -> None:
        """Commands run in ``cwd``; ``state`` (outside the repository) holds the logs of
        background commands and the variables handed from one command to the next."""
        self.cwd, self.env, self.subs, self.state = cwd, dict(env), dict(subs), state
        self.background: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.ran: list[str] = []  # README keys, in the order they were executed
        self.seconds: list[tuple[float, str]] = []  # how long each foreground command took
        state.mkdir(parents=True, exist_ok=True)

    def prepare(self, text: str) -> str:
        for old, new in self.subs.items():
            text = text.replace(old, new)
        return text

    def _once(self, script: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", script],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def run(self, command: Command, timeout: float = 600) -> str:
        """Run ``command`` in the foreground; assert exit 0; keep the variables it set.

        The one failure retried is the API server's own "not yet" for a just-created CRD
        (see ``CRD_NOT_YET``), for up to ``CRD_SETTLE`` seconds, as the README tells users."""
        env_file, started = self.state / "env", time.monotonic()
        # allexport: a plain assignment (JOB=$(...)) reaches the next command, as in one session
        script = f"set -aeuo pipefail\n{self.prepare(command.text)}\nenv -0 > {env_file}\n"
        proc = self._once(script, timeout)
        while (
            proc.returncode != 0
            and CRD_NOT_YET in proc.stderr
            and time.monotonic() - started < CRD_SETTLE
        ):
            time.sleep(1)
            proc = self._once(script, timeout)
        assert proc.returncode == 0, (
            f"README.md line {command.line} failed (exit {proc.returncode}):\n"
            f"  {self.prepare(command.text)}\n--- stdout\n{proc.stdout[-3000:]}\n"
            f"--- stderr\n{proc.stderr[-3000:]}"
        )
        entries = env_file.read_bytes().split(b"\0")
        self.env = dict(e.decode().split("=", 1) for e in entries if b"=" in e)
        self.ran.append(command.key)
        self.seconds.append((round(time.monotonic() - started, 1), command.key[:70]))
        return proc.stdout

    def spawn(self, command: Command) -> subprocess.Popen[bytes]:
        """Start a ``&`` command in its own process group, logging to a file."""
        assert command.background, command.text
        log = open(self.state / f"line-{command.line}.log", "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen(
            ["bash", "-c", "exec " + self.prepare(command.foreground)],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.background.append((command.key, proc))
        self.ran.append(command.key)
        return proc

    def log_of(self, command: Command) -> str:
        path = self.state / f"line-{command.line}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no log)"

    def stop_all(self) -> None:
        """SIGTERM each background process group, then SIGKILL what is left of it."""
        for _, proc in reversed(self.background):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # helpers it forked (rq's scheduler)
        self.background.clear()


def wait_until(what: str, check: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def http_status(url: str) -> int:
    """The status code of a GET, 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0
