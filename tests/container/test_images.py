"""What the image build leaves in each venv (deploy/docker/build-venv.sh + prune.py): what a
service needs still imports inside its image, what it never loads is gone, and the
inference start path loads neither pandas nor the MLflow client."""

from __future__ import annotations

import json

import pytest

from tests.container.docker import docker, image

SITE = "/opt/venv/lib/python3.11/site-packages"
# what xgboost loads (scipy.sparse, scipy.special) and what scipy.sparse builds on
SCIPY_KEPT = ["scipy.sparse", "scipy.sparse.linalg", "scipy.sparse.csgraph", "scipy.special"]


def run_python(name: str, code: str) -> str:
    return docker(
        "run", "--rm", "--read-only", "--user", "10001:10001", "--network", "none",
        "--entrypoint", "python", image(name), "-c", code, timeout=180,
    )  # fmt: skip


def listing(name: str) -> dict[str, object]:
    """Facts about one image's venv, gathered inside it."""
    code = f"""
import json, pathlib
site = pathlib.Path({SITE!r})
print(json.dumps({{
    "pip": (site / "pip").exists() or pathlib.Path("/opt/venv/bin/pip").exists(),
    "setuptools": (site / "setuptools").exists(),
    "stubs": [str(p) for p in site.rglob("*.pyi")][:5],
    "tests": [str(p) for p in site.rglob("tests/__init__.py")][:5],
    "scipy": sorted(p.name for p in (site / "scipy").iterdir() if p.is_dir())
        if (site / "scipy").exists() else None,
}}))
"""
    return dict(json.loads(run_python(name, code)))


@pytest.mark.parametrize("name", ["inference", "batch", "controller", "trainer"])
def test_venv_holds_no_installer_stubs_or_test_suites(name: str) -> None:
    found = listing(name)
    assert found["pip"] is False, "pip is removed from the runtime venv"
    assert found["stubs"] == [], found["stubs"]
    assert found["tests"] == [], found["tests"]
    if name == "controller":
        assert found["setuptools"] is False


@pytest.mark.parametrize("name", ["inference", "batch"])
def test_scipy_is_trimmed_to_what_xgboost_loads_and_that_still_imports(name: str) -> None:
    assert listing(name)["scipy"] == ["__pycache__", "_lib", "linalg", "sparse", "special"]
    out = run_python(
        name,
        "import importlib, xgboost, numpy, scipy.sparse as sp; "
        f"[importlib.import_module(m) for m in {SCIPY_KEPT!r}]; "
        "d = xgboost.DMatrix(sp.csr_matrix(numpy.eye(3, dtype='float32'))); "
        "print(d.num_row(), d.num_col())",
    )
    assert out == "3 3"


def test_trainer_keeps_all_of_scipy() -> None:
    """scikit-learn and mlflow need the rest; the trainer's own run uses them."""
    out = run_python("trainer", "import scipy.stats, scipy.optimize, sklearn; print('ok')")
    assert out == "ok"


def test_inference_start_path_loads_no_pandas_mlflow_or_rate_limiter() -> None:
    """Start-up work a local model folder does not need: pandas (inference encodes records),
    the MLflow client (only a models:/ or runs:/ URI loads it) and slowapi/limits (only
    when INFERENCE_RATE_LIMIT is set)."""
    out = run_python(
        "inference",
        "import sys, services.inference.__main__, services.inference.app; "
        "unneeded = ('pandas', 'mlflow', 'pyarrow', 'slowapi', 'limits'); "
        "print(sorted(m for m in unneeded if m in sys.modules))",
    )
    assert out == "[]"
