"""Declarative dataset configs: a new tabular credit dataset needs a YAML file, no code.

A config names the CSV file, the target column and its positive label, an optional id
column and column renames (e.g. the Kaggle layout of the Default data), and each feature
with its type, allowed range or levels, and nullability.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, Field

from services.core.contract import FeatureSpec
from services.core.paths import REPO_ROOT
from services.core.validation import validate_frame

CONFIG_DIR = REPO_ROOT / "data" / "configs"


class DatasetConfig(BaseModel):
    name: str
    description: str = ""
    file: str  # CSV path, relative to the config file's folder (or absolute)
    target: str
    positive: str  # label value meaning "defaulted" / bad
    id_column: str | None = None
    rename: dict[str, str] = Field(default_factory=dict)  # source column -> name used here
    features: list[FeatureSpec]
    training: dict[str, float | int] = Field(default_factory=dict)  # booster parameter overrides
    path: Path | None = Field(default=None, exclude=True)  # where the config was read from

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    def data_path(self) -> Path:
        file = Path(self.file)
        base = self.path.parent if self.path else CONFIG_DIR
        return file if file.is_absolute() else (base / file).resolve()


def load_config(name_or_path: str | Path) -> DatasetConfig:
    """Load a config by bundled name (``default``) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = CONFIG_DIR / f"{name_or_path}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"no dataset config {str(name_or_path)!r} (bundled: {known})")
    config = DatasetConfig.model_validate(yaml.safe_load(path.read_text()))
    return config.model_copy(update={"path": path.resolve()})


def read_csv(config: DatasetConfig, path: Path | None = None) -> pd.DataFrame:
    """Read the raw CSV as strings-for-categoricals, with renames applied."""
    dtypes = {f.name: "string" for f in config.features if f.is_categorical}
    dtypes[config.target] = "string"
    inverse = {v: k for k, v in config.rename.items()}
    src_dtypes = {inverse.get(k, k): v for k, v in dtypes.items()}
    frame = pd.read_csv(path or config.data_path(), dtype=src_dtypes, keep_default_na=True)
    return frame.rename(columns=config.rename)


def load_dataset(
    config: DatasetConfig, path: Path | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Read, validate (fail fast with a report) and split into features and 0/1 labels."""
    frame = read_csv(config, path)
    validate_frame(
        frame, config.features, target=config.target, id_column=config.id_column
    ).raise_if_failed()
    labels = (frame[config.target].astype(str) == config.positive).to_numpy(np.int8)
    return frame[config.feature_names].copy(), labels


def fingerprint(frame: pd.DataFrame, labels: np.ndarray) -> str:
    """A stable sha256 of the training data (values and labels, in order)."""
    digest = hashlib.sha256()
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(np.asarray(labels).tobytes())
    return "sha256:" + digest.hexdigest()
