"""Print the pip requirements of one image: pyproject's base dependencies plus one extra.

usage: python3 requirements.py PYPROJECT EXTRA     (EXTRA: inference|batch|trainer|controller|all)

Self-references (``creditrisk-platform[a,b]``) are expanded, duplicates dropped, and
``xgboost`` becomes ``xgboost-cpu`` at the same exact version (same module, no CUDA/NCCL
wheels). Stdlib only; scripts/docker/wheelhouse.sh runs it on the host.
"""

from __future__ import annotations

import re
import sys
import tomllib

NAME = re.compile(r"^\s*([A-Za-z0-9._-]+)(?:\[([^\]]*)\])?(.*)$")


def requirements(project: dict[str, object], extra: str) -> list[str]:
    name = str(project["name"])
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})  # type: ignore[assignment]
    if extra not in extras:
        raise SystemExit(f"unknown extra {extra!r}; pyproject has: {', '.join(sorted(extras))}")
    out: list[str] = list(project.get("dependencies", []))  # type: ignore[call-overload]
    pending, seen = [extra], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for req in extras[current]:
            match = NAME.match(req)
            if match and match[1] == name:
                pending.extend(part.strip() for part in (match[2] or "").split(","))
            else:
                out.append(req)
    unique = list(dict.fromkeys(out))
    return [re.sub(r"^xgboost(?=[=<>~! ])", "xgboost-cpu", req) for req in unique]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0], "rb") as fh:
        project = tomllib.load(fh)["project"]
    print("\n".join(requirements(project, argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
