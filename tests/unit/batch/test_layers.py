"""The batch package's rooms import downwards only, and no module imports itself back
(the code map in docs/batch.md draws the same picture)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[3] / "services" / "batch"
# room → rank: a module may import its own room or a room of lower rank, never a peer
RANKS = {
    "entry": 9,  # cli, demo, __main__: wire everything together
    "api": 5,
    "client": 5,
    "service": 4,
    "worker": 4,
    "metrics": 3,
    "state": 2,
    "formats": 1,
    "base": 0,  # domain, checks, settings
}
ENTRY = {"cli", "demo", "__main__", ""}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__")


def _room(module: str) -> str:
    head = module.split(".")[0]
    if module in ENTRY:
        return "entry"
    if head in RANKS:
        return head
    return "base"


def _imports() -> dict[str, set[str]]:
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                if name.startswith("services.batch."):
                    target = name.removeprefix("services.batch.")
                    if target in modules and target != module:
                        found.add(target)
        graph[module] = found
    return graph


def test_rooms_import_only_their_own_room_or_lower_ones() -> None:
    wrong = [
        f"{module} ({_room(module)}) imports {target} ({_room(target)})"
        for module, targets in _imports().items()
        for target in targets
        if _room(target) != _room(module) and RANKS[_room(target)] >= RANKS[_room(module)]
    ]
    assert not wrong, "\n".join(sorted(wrong))


def test_no_import_cycle() -> None:
    graph = _imports()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        for target in graph[module]:
            assert target not in path, "import cycle: " + " → ".join([*path, target])
            if target not in done:
                visit(target, [*path, target])
        done.add(module)

    for module in graph:
        visit(module, [module])
