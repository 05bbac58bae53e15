"""The image build's own helpers (deploy/docker): each image's requirements from
pyproject, and the pruning of an installed venv, on a fake site-packages."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.unit

DOCKER = Path(__file__).resolve().parents[3] / "deploy" / "docker"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docker_{name}", DOCKER / f"{name}.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


prune = _load("prune")
requirements = _load("requirements")

PROJECT = {
    "name": "creditrisk-platform",
    "dependencies": ["pydantic>=2.7"],
    "optional-dependencies": {
        "inference": ["xgboost==3.2.0", "fastapi>=0.115"],
        "trainer": ["xgboost==3.2.0", "scikit-learn>=1.5"],
        "all": ["creditrisk-platform[inference,trainer]"],
    },
}


def test_requirements_expand_self_references_and_use_xgboost_cpu() -> None:
    assert requirements.requirements(PROJECT, "inference") == [
        "pydantic>=2.7",
        "xgboost-cpu==3.2.0",
        "fastapi>=0.115",
    ]
    everything = requirements.requirements(PROJECT, "all")
    assert everything.count("xgboost-cpu==3.2.0") == 1
    assert "scikit-learn>=1.5" in everything


def test_an_edit_to_another_extra_leaves_a_service_requirements_alone() -> None:
    """What keeps an image's layer cache when pyproject changes elsewhere."""
    edited = {**PROJECT, "optional-dependencies": {**PROJECT["optional-dependencies"]}}
    edited["optional-dependencies"]["trainer"] = ["xgboost==3.2.0", "matplotlib>=3.8"]  # type: ignore[index]
    assert requirements.requirements(edited, "inference") == requirements.requirements(
        PROJECT, "inference"
    )
    assert requirements.requirements(edited, "trainer") != requirements.requirements(
        PROJECT, "trainer"
    )


def test_every_image_extra_of_the_real_pyproject_resolves() -> None:
    with open(DOCKER.parents[1] / "pyproject.toml", "rb") as fh:
        project = tomllib.load(fh)["project"]
    for extra in ("inference", "batch", "trainer", "controller"):
        reqs = requirements.requirements(project, extra)
        assert "xgboost-cpu==3.2.0" in reqs or extra == "controller", extra
        assert not any(r.startswith("creditrisk-platform") for r in reqs)
    with pytest.raises(SystemExit, match="unknown extra"):
        requirements.requirements(project, "nope")


def _dist(site: Path, name: str, *requires: str) -> None:
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", "Version: 1.0"]
    lines += [f"Requires-Dist: {req}" for req in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


def _file(path: Path, size: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def _fake_site(tmp_path: Path, *scipy_users: tuple[str, ...]) -> Path:
    site = tmp_path / "site-packages"
    _dist(site, "scipy")
    for name, *requires in scipy_users:
        _dist(site, name, *requires)
    for sub in ("_lib", "sparse", "sparse/linalg", "special", "linalg", "stats", "optimize", "io"):
        _file(site / "scipy" / sub / "__init__.py")
    _file(site / "scipy" / "__init__.py")
    _file(site / "pandas" / "tests" / "__init__.py", 1000)
    _file(site / "pandas" / "core" / "frame.py")
    _file(site / "pandas" / "core" / "frame.pyi")
    _file(site / "numpy" / "_core" / "include" / "ndarraytypes.h")
    for lib in ("libarrow.so.2500", "libarrow_python.so.2500", "lib.cpython-311.so"):
        _file(site / "pyarrow" / lib)
    for lib in ("libarrow_python.so", "libarrow_python.so.2500.1.0", "libarrow_flight.so.2500"):
        _file(site / "pyarrow" / lib)
    _file(site / "setuptools" / "__init__.py")
    _file(site / "distutils-precedence.pth")
    return site


def test_prune_trims_scipy_when_only_xgboost_needs_it(tmp_path: Path) -> None:
    site = _fake_site(tmp_path, ("xgboost-cpu", "numpy", "scipy"), ("pandas", "numpy>=1.26"))
    freed = prune.prune(site)
    kept = sorted(p.name for p in (site / "scipy").iterdir())
    assert kept == ["__init__.py", "_lib", "linalg", "sparse", "special"]
    assert (site / "scipy" / "sparse" / "linalg" / "__init__.py").exists()
    assert not (site / "pandas" / "tests").exists()
    assert (site / "pandas" / "core" / "frame.py").exists()
    assert not (site / "pandas" / "core" / "frame.pyi").exists()
    assert not (site / "numpy" / "_core" / "include" / "ndarraytypes.h").exists()
    arrow = sorted(p.name for p in (site / "pyarrow").iterdir())
    assert arrow == ["lib.cpython-311.so", "libarrow.so.2500", "libarrow_python.so.2500"]
    assert not (site / "setuptools").exists()
    assert not (site / "distutils-precedence.pth").exists()
    assert freed >= 1000 + 3 * 10


def test_prune_keeps_all_of_scipy_when_another_distribution_requires_it(tmp_path: Path) -> None:
    site = _fake_site(
        tmp_path,
        ("xgboost-cpu", "scipy"),
        ("scikit-learn", "scipy>=1.8", "numpy"),
        ("tool", "setuptools>=60"),
    )
    prune.prune(site)
    assert (site / "scipy" / "stats").is_dir()
    assert (site / "scipy" / "optimize").is_dir()
    assert (site / "setuptools").is_dir(), "a distribution requires it"


def test_required_by_matches_whole_names_and_skips_extras(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _dist(site, "a", "scipy-stubs>=1")  # another name that starts with scipy
    _dist(site, "b", "scipy; extra == 'full'")  # only with an extra
    _dist(site, "c", "scipy (>=1.8)")
    assert prune._required_by(site, "scipy") == {"c"}
