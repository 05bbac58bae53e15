"""The lock file (`requirements/dev.lock`, `make lock`): every dependency pinned with its
hashes, and in step with pyproject.toml — a dependency added, or a range moved past the
pinned version, without re-locking fails here."""

from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
LOCK = REPO / "requirements" / "dev.lock"
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)")


def _expand(extra: str) -> list[str]:
    """pyproject's base dependencies plus ``extra``, self-references expanded (the image
    build's own helper, with xgboost kept as xgboost: the host installs the full wheel)."""
    path = REPO / "deploy" / "docker" / "requirements.py"
    spec = importlib.util.spec_from_file_location("docker_requirements_lock", path)
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [re.sub(r"^xgboost-cpu", "xgboost", r) for r in module.requirements(project, extra)]


def _pins() -> dict[str, str]:
    return {
        canonicalize_name(m[1]): m[2]
        for line in LOCK.read_text().splitlines()
        if (m := PIN.match(line))
    }


def test_every_pinned_package_carries_hashes() -> None:
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text())
    pinned = [b for b in blocks if PIN.match(b)]
    assert len(pinned) > 100
    unhashed = [b.split()[0] for b in pinned if "--hash=sha256:" not in b]
    assert unhashed == []


def test_the_lock_satisfies_every_requirement_of_pyproject() -> None:
    pins = _pins()
    env = {**default_environment(), "python_version": "3.11", "sys_platform": "linux"}
    problems = []
    for line in _expand("dev"):
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name}: not in the lock")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name}: lock has {version}, pyproject wants {req.specifier}")
    assert problems == [], "run `make lock`: " + "; ".join(problems)


def test_one_xgboost_for_trainer_and_servers() -> None:
    wanted = {Requirement(r).specifier for r in _expand("dev") if r.startswith("xgboost")}
    (spec,) = wanted
    assert str(spec).startswith("=="), "xgboost is pinned exactly in pyproject"
    assert _pins()["xgboost"] == str(spec)[2:]
