"""Registry URIs (``models:/name/3``, ``models:/name@alias``) as values: pure, no MLflow.

The controller's spec parses candidate URIs with :class:`ModelRef`; only
``services.core.registry`` talks to the registry about them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))$")


@dataclass(frozen=True)
class ModelRef:
    """A registered model version named by ``models:/name/3`` or ``models:/name@alias``."""

    name: str
    version: str | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, uri: str) -> ModelRef:
        match = MODELS_URI.match(uri.strip())
        if not match:
            raise ValueError(
                f"not a registry URI (models:/name/VERSION or models:/name@ALIAS): {uri!r}"
            )
        return cls(match["name"], match["version"], match["alias"])

    @property
    def uri(self) -> str:
        return (
            f"models:/{self.name}/{self.version}"
            if self.version
            else f"models:/{self.name}@{self.alias}"
        )
