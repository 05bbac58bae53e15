"""Drop what a service never loads from an installed venv (run in the builder stage).

usage: python3 prune.py SITE_PACKAGES

Removed: setuptools when no installed distribution requires it, kubernetes' unused
asyncio client, test suites (``tests``/``test`` packages: pandas alone ships 46 MB), C/C++ and
Cython sources and headers and ``*.pyi`` type stubs (only builds and type checkers use
them), pyarrow's Arrow Flight RPC libraries (~35 MB; only ``pyarrow.flight`` loads them,
and no service imports it) and the unversioned copies of its shared libraries (a wheel
cannot hold symlinks; the loader asks for the SONAME, ``libarrow_python.so.2500``).

scipy, when xgboost is the only distribution that requires it (inference, batch): xgboost
imports ``scipy.sparse`` at module level, and ``scipy.special`` when it is used; the other
subpackages (stats, optimize, signal, io, ...: ~55 MB) are removed, and ``scipy.sparse``
keeps what it builds on (``_lib``, ``linalg``, its own ``linalg`` and ``csgraph``). The
trainer's scikit-learn and mlflow need all of scipy, so there it stays whole.

Each image's container tests start its entrypoints and serve real predictions, and
``test_images.py`` imports what is kept, so a removal that mattered fails there. Stdlib
only.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

SOURCE_SUFFIXES = {".pyx", ".pxd", ".pxi", ".c", ".cc", ".cpp", ".h", ".hpp", ".pyi"}
TEST_DIRS = {"tests", "test"}
# kubernetes ships an asyncio copy of its whole client (68 MB); the controller uses the
# synchronous kubernetes.client (kopf has its own aiohttp client)
PACKAGE_UNUSED = {"kubernetes": ("aio",)}
PYARROW_UNUSED = (
    "_flight.*",
    "libarrow_flight.so*",
    "libarrow_python_flight.so*",
    "_pyarrow_cpp_tests.*",
    "libarrow_python.so",
    "libarrow_python.so.*.*.*",
    "libarrow_python_parquet_encryption.so",
    "libarrow_python_parquet_encryption.so.*.*.*",
)
# what `import scipy.sparse` / `scipy.special` (xgboost) load, and what scipy.sparse's own
# linalg and csgraph build on; the rest of scipy goes when only xgboost requires scipy
SCIPY_KEPT = {"_lib", "sparse", "special", "linalg", "__pycache__"}
SCIPY_ONLY_FOR = {"xgboost", "xgboost-cpu"}


def prune(site: Path) -> int:
    """Remove unused files below ``site``; return the bytes freed."""
    freed = 0
    for path in sorted(site.rglob("*"), reverse=True):
        if path.is_dir() and path.name in TEST_DIRS and (path / "__init__.py").exists():
            freed += _size(path)
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in SOURCE_SUFFIXES:
            freed += path.stat().st_size
            path.unlink()
    for pattern in PYARROW_UNUSED:
        for path in (site / "pyarrow").glob(pattern):
            freed += path.stat().st_size
            path.unlink()
    for package, names in PACKAGE_UNUSED.items():
        for name in names:
            if (site / package / name).is_dir():
                freed += _size(site / package / name)
                shutil.rmtree(site / package / name)
    if (site / "scipy").is_dir() and _required_by(site, "scipy") <= SCIPY_ONLY_FOR:
        for path in (site / "scipy").iterdir():
            if path.is_dir() and path.name not in SCIPY_KEPT:
                freed += _size(path)
                shutil.rmtree(path)
    if not _required_by(site, "setuptools"):  # venv seeds it; nothing here imports pkg_resources
        for path in [
            *site.glob("setuptools*"),
            *site.glob("pkg_resources"),
            *site.glob("_distutils_hack"),
            *site.glob("distutils-precedence.pth"),
        ]:
            freed += _size(path) if path.is_dir() else path.stat().st_size
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return freed


def _required_by(site: Path, name: str) -> set[str]:
    """The distributions installed in ``site`` that require ``name`` (extras aside)."""
    from importlib.metadata import distributions

    wanted = name.lower()
    return {
        str(dist.metadata["Name"]).lower()
        for dist in distributions(path=[str(site)])
        for req in dist.requires or []
        if re.match(rf"^{re.escape(wanted)}(?![\w.-])", req.lower()) and "extra ==" not in req
    }


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not Path(argv[0]).is_dir():
        print(__doc__, file=sys.stderr)
        return 2
    print(f"pruned {prune(Path(argv[0])) / 2**20:.0f} MiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
