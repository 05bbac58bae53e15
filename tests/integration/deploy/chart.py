"""Helpers shared by the deployment tests: the real helm/kubectl/promtool binaries and the
chart rendered into Python objects."""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "helm" / "creditrisk"
CI_VALUES = CHART / "ci"
ALL_FEATURES = CI_VALUES / "all-features-values.yaml"
TOOLS = REPO / ".tools" / "bin"

Manifest = dict[str, Any]


def tool(name: str) -> str:
    """An upstream binary: $NAME, .tools/bin (scripts/install-helm.sh), then PATH."""
    env = os.environ.get(name.upper())
    for candidate in (env, str(TOOLS / name), shutil.which(name)):
        if candidate and os.access(candidate, os.X_OK) and candidate != "/usr/bin/kubectl":
            return candidate
    raise AssertionError(f"{name} not found: run `make install` (scripts/install-helm.sh)")


def run(
    *argv: str, check: bool = True, timeout: float = 120, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def helm(*args: str, check: bool = True, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return run(tool("helm"), *args, check=check, **kwargs)


def template_text(
    *values: Path, release: str = "cr", namespace: str = "credit-risk", extra: tuple[str, ...] = ()
) -> str:
    args = ["template", release, str(CHART), "--namespace", namespace, "--kube-version", "1.31.0"]
    for v in values:
        args += ["-f", str(v)]
    return helm(*args, *extra).stdout


@cache
def render(values: Path | None = None, release: str = "cr") -> tuple[Manifest, ...]:
    """Every object the chart renders (hooks and tests included), parsed."""
    text = template_text(*([values] if values else []), release=release)
    return tuple(d for d in yaml.safe_load_all(text) if d)


def by_kind(docs: tuple[Manifest, ...], kind: str) -> list[Manifest]:
    return [d for d in docs if d["kind"] == kind]


def pod_specs(docs: tuple[Manifest, ...]) -> list[tuple[str, Manifest]]:
    """(name, pod spec) of every workload: Deployments, Jobs and bare Pods."""
    found = []
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            found.append((f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"]))
        elif d["kind"] == "Pod":
            found.append((f"Pod/{d['metadata']['name']}", d["spec"]))
    return found
