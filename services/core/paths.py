"""Where the repository is: the root that local stores (``.mlflow/``) and data hang off.

Its own module so that settings can find it without loading pandas, yaml or the dataset
configs.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

SEARCH_DEPTH = 3  # a model folder, MLflow's download folder around it, and one level more


def find_below(folder: Path, filename: str, depth: int = SEARCH_DEPTH) -> list[Path]:
    """Files called ``filename`` in ``folder`` and at most ``depth - 1`` levels below, in
    sorted order. Bounded on purpose: a model folder of ``/`` must not walk the disk."""
    found: list[Path] = []
    for level in range(depth):
        found.extend(sorted(folder.glob("/".join(["*"] * level + [filename]))))
    return found
