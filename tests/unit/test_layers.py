"""The layer contracts in ``pyproject.toml`` ([tool.importlinter]) hold, and they catch leaks.

``make lint`` runs ``lint-imports`` too; this test makes ``make test`` (and so CI) enforce the
contracts, and proves on a copy of the tree that a leak — direct, indirect through a core
module, or between services — breaks them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
LINT = "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())"


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", LINT, "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        check=False,
    )


def copy_tree(dest: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "Dockerfile", "*.pyc")
    for package in ("services", "controller"):
        shutil.copytree(ROOT / package, dest / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_tree_keeps_every_contract() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


LEAKS = {
    "direct": ("controller/rollout/actions.py", "import kopf", "controller.rollout"),
    # spec → a core module → mlflow: the leak the contract was written for.
    "indirect": ("services/core/model_ref.py", "import mlflow", "controller.spec"),
    "core-pure": ("services/core/psi.py", "import fastapi", "services.core.psi"),
    "settings": ("services/core/paths.py", "import pandas", "services.core.settings"),
    "service-to-service": (
        "services/inference/drift.py",
        "import services.batch.settings",
        "services.inference",
    ),
    "core-to-service": ("services/core/encoding.py", "import controller.kube", "services.core"),
}


@pytest.mark.parametrize("leak", sorted(LEAKS))
def test_a_leak_breaks_a_contract(tmp_path: Path, leak: str) -> None:
    relative, statement, culprit = LEAKS[leak]
    tree = copy_tree(tmp_path)
    module = tree / relative
    module.write_text(module.read_text() + f"\n{statement}\n")
    result = lint_imports(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert culprit in result.stdout
