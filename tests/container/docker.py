"""Run the platform's images on a real Docker engine the way the chart runs them.

Every container: read-only root filesystem, UID 10001, all capabilities dropped,
no-new-privileges, /tmp as a tmpfs, on a private network, ports published on 127.0.0.1
only (an ephemeral host port). Containers and networks carry the label
``creditrisk.test=1`` and are removed by the fixtures that made them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import httpx

IMAGE_REPO = os.environ.get("IMAGE_REPO", "creditrisk")
IMAGE_TAG = os.environ.get("IMAGE_TAG", "dev")
LABEL = "creditrisk.test=1"
HARDENED = (
    "--read-only",
    "--user",
    "10001:10001",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--tmpfs",
    "/tmp:rw,size=512m,uid=10001,gid=10001",
)

T = TypeVar("T")


def image(name: str) -> str:
    return f"{IMAGE_REPO}/{name}:{IMAGE_TAG}"


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def engine_problem() -> str | None:
    """Why the container tests cannot run, or None."""
    try:
        docker("info", "--format", "{{.ServerVersion}}", timeout=20)
    except (AssertionError, FileNotFoundError, subprocess.TimeoutExpired) as exc:
        return f"no Docker engine answers ({exc}); `make test` starts one (make docker)"
    missing = [
        image(name)
        for name in ("inference", "batch", "trainer", "controller", "redis")
        if subprocess.run(
            ["docker", "image", "inspect", image(name)], capture_output=True, check=False
        ).returncode
    ]
    if missing:
        return f"images not built: {', '.join(missing)}; run `make images`"
    return None


@dataclass
class Network:
    name: str = field(default_factory=lambda: f"creditrisk-test-{uuid.uuid4().hex[:8]}")

    def create(self) -> Network:
        docker("network", "create", "--label", LABEL, self.name)
        return self

    def remove(self) -> None:
        docker("network", "rm", self.name, check=False)


@dataclass
class Container:
    """One hardened container; ``start`` runs it detached, ``port`` maps a container port."""

    image: str
    network: Network
    args: Sequence[str] = ()
    env: dict[str, str] = field(default_factory=dict)
    volumes: Sequence[str] = ()  # "host:container[:ro]"
    publish: Sequence[int] = ()
    alias: str | None = None
    hardened: bool = True
    extra: Sequence[str] = ()
    id: str = ""

    def start(self) -> Container:
        command = ["run", "--detach", "--label", LABEL]
        if "--network" not in self.extra:
            command += ["--network", self.network.name]
        if self.alias:
            command += ["--network-alias", self.alias]
        if self.hardened:
            command += HARDENED
        for key, value in self.env.items():
            command += ["--env", f"{key}={value}"]
        for volume in self.volumes:
            command += ["--volume", volume]
        for port in self.publish:
            command += ["--publish", f"127.0.0.1::{port}"]
        self.id = docker(*command, *self.extra, self.image, *self.args)
        return self

    def port(self, container_port: int) -> int:
        mapping = docker("port", self.id, f"{container_port}/tcp")
        host, _, port = mapping.splitlines()[0].rpartition(":")
        assert host == "127.0.0.1", f"published beyond loopback: {mapping}"
        return int(port)

    def url(self, container_port: int = 8080) -> str:
        return f"http://127.0.0.1:{self.port(container_port)}"

    def ip(self) -> str:
        """The address on the test network: reachable from the host without docker-proxy
        (which accepts a connection even when nothing listens behind it any more)."""
        return docker(
            "inspect", "--format",
            f'{{{{(index .NetworkSettings.Networks "{self.network.name}").IPAddress}}}}', self.id,
        )  # fmt: skip

    def state(self) -> dict[str, object]:
        return dict(json.loads(docker("inspect", "--format", "{{json .State}}", self.id)))

    def logs(self) -> str:
        proc = subprocess.run(
            ["docker", "logs", "--tail", "200", self.id],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return proc.stdout + proc.stderr

    def exec(self, *args: str, timeout: float = 60) -> str:
        return docker("exec", self.id, *args, timeout=timeout)

    def stop(self, timeout: int = 30) -> None:
        docker("stop", "--time", str(timeout), self.id, timeout=timeout + 30)

    def kill(self) -> None:
        docker("kill", self.id)

    def wait(self, timeout: float = 600) -> int:
        return int(docker("wait", self.id, timeout=timeout))

    def remove(self) -> None:
        if self.id:
            docker("rm", "--force", "--volumes", self.id, check=False)


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float, container: Container | None = None
) -> T:
    """Poll ``probe`` until it returns a value; on time-out fail with the container's logs."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            value = probe()
        except (httpx.HTTPError, OSError) as exc:
            value, last = None, exc
        if value is not None:
            return value
        if container is not None and container.state().get("Status") == "exited":
            break
        time.sleep(0.2)
    logs = container.logs()[-4000:] if container else ""
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last: {last!r})\n{logs}")


def http_ok(url: str) -> bool | None:
    return True if httpx.get(url, timeout=5).status_code == 200 else None
