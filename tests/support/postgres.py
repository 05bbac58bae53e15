"""A real PostgreSQL server (the Debian ``postgresql`` package) for tests: ``initdb`` into
a fresh directory, ``pg_ctl start`` on a free loopback port, ``pg_ctl stop`` after.

``initdb`` refuses to run as root, so when the tests run as root the server runs as the
package's ``postgres`` user (``runuser``); its directory is created outside pytest's
root-only temp tree and handed to that user. ``stop()``/``start()`` restart it on the same
port and data (an outage drill).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Self

from tests.support.processes import free_port, wait_for_port

USER = "postgres"


def pg_bin(name: str) -> str:
    """A PostgreSQL server binary: the newest /usr/lib/postgresql/*/bin, else PATH."""
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not installed: run `make install` (apt postgresql)")
    return found


class PostgresServer:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="decisions-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        if self.as_root:
            try:
                user = pwd.getpwnam(USER)
            except KeyError as exc:
                raise RuntimeError(
                    "running as root needs the `postgres` user (apt postgresql creates it)"
                ) from exc
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.running = False

    @property
    def dsn(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        command = list(argv)
        if self.as_root:
            command = ["runuser", "-u", USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed: {done.stderr}{done.stdout}\n{log[-2000:]}")

    def init(self) -> Self:
        self._run(
            pg_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        return self

    def start(self) -> Self:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "start",
        )
        wait_for_port(self.port)
        self.running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")
            self.running = False

    def cleanup(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.init().start()
        yield server
    finally:
        server.cleanup()
