"""Drop what a service never loads from an installed venv (run in the builder stage).

usage: python3 prune.py SITE_PACKAGES

Removed: setuptools when no installed distribution requires it, kubernetes' unused
asyncio client, test suites (``tests``/``test`` packages: pandas alone ships 46 MB), C/C++ and
Cython sources and headers (only builds use them), and pyarrow's Arrow Flight RPC
libraries (~35 MB; only ``pyarrow.flight`` loads them, and no service imports it).
Each image's container test starts its entrypoints, so a removal that mattered would fail
there. Stdlib only.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

SOURCE_SUFFIXES = {".pyx", ".pxd", ".pxi", ".c", ".cc", ".cpp", ".h", ".hpp"}
TEST_DIRS = {"tests", "test"}
# kubernetes ships an asyncio copy of its whole client (68 MB); the controller uses the
# synchronous kubernetes.client (kopf has its own aiohttp client)
PACKAGE_UNUSED = {"kubernetes": ("aio",)}
PYARROW_UNUSED = (
    "_flight.*",
    "libarrow_flight.so*",
    "libarrow_python_flight.so*",
    "_pyarrow_cpp_tests.*",
)


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
    if not _required(site, "setuptools"):  # venv seeds it; nothing here imports pkg_resources
        for path in [
            *site.glob("setuptools*"),
            *site.glob("pkg_resources"),
            *site.glob("_distutils_hack"),
            *site.glob("distutils-precedence.pth"),
        ]:
            freed += _size(path) if path.is_dir() else path.stat().st_size
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return freed


def _required(site: Path, name: str) -> bool:
    """Whether a distribution installed in ``site`` requires ``name``."""
    from importlib.metadata import distributions

    wanted = name.lower()
    for dist in distributions(path=[str(site)]):
        for req in dist.requires or []:
            if re.match(rf"^{re.escape(wanted)}\b", req.lower()) and "extra ==" not in req:
                return True
    return False


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
