"""Where the repository is: the root that local stores (``.mlflow/``) and data hang off.

Its own module so that settings can find it without loading pandas, yaml or the dataset
configs.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
