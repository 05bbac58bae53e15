"""The README's reference tables cannot drift from the code: the settings table names every
environment variable of every settings class (with its default), the ModelRollout table
every field of the CRD schema (with the CRD's default), the metrics table every metric the
services and the controller export (with its labels) -- and none of them names anything
that does not exist."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from pydantic import AliasChoices, SecretStr
from pydantic_settings import BaseSettings

from controller.settings import ControllerSettings
from services.batch.settings import BatchSettings
from services.core.datasets import REPO_ROOT
from services.core.decisions.settings import DecisionSettings
from services.inference.settings import InferenceSettings
from services.trainer.settings import TrainerSettings
from tests.integration.docs import readme
from tests.integration.docs.readme import REPO
from tests.support.processes import RedisServer

pytestmark = pytest.mark.integration

SETTINGS: tuple[type[BaseSettings], ...] = (
    InferenceSettings,
    BatchSettings,
    TrainerSettings,
    ControllerSettings,
    DecisionSettings,
)
CLIENT_ENV = {"BATCH_API_URL", "BATCH_API_KEY"}  # the batch CLI's own two variables
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$|^(TRACK|SHADOW)$")


def shown(value: Any) -> str | None:
    """How the README writes a default, or None when it is machine-specific or unset."""
    if value is None or isinstance(value, Path) or str(REPO_ROOT) in str(value):
        return None
    if isinstance(value, SecretStr):
        value = value.get_secret_value()  # a secret's default is empty
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return '""' if value == "" else str(value)


def rows_by_name(title: str) -> dict[str, list[str]]:
    """First-cell name (brace-expanded) -> that row's cells, for one README section."""
    found: dict[str, list[str]] = {}
    for cells in readme.table_rows(readme.section(title)):
        if cells[0].startswith("**"):
            continue  # a group heading row
        for name in readme.ticked(cells[0]):
            assert name not in found, f"{title}: {name} is listed twice"
            found[name] = cells
    return found


# ------------------------------------------------------------------ settings
def env_defaults() -> dict[str, list[Any]]:
    """Every environment variable a settings class reads -> its defaults (per class)."""
    found: dict[str, list[Any]] = {}
    for cls in SETTINGS:
        prefix = cls.model_config.get("env_prefix", "")
        for name, field in cls.model_fields.items():
            names = {f"{prefix}{name}".upper()}
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names |= {c.upper() for c in alias.choices if isinstance(c, str)}
            default = field.get_default(call_default_factory=True)
            for env in names:
                found.setdefault(env, []).append(default)
    return found


def test_settings_reference_lists_every_variable() -> None:
    expected = env_defaults()
    rows = rows_by_name("Settings reference")
    assert sorted(set(expected) - set(rows)) == [], "missing from README 'Settings reference'"
    stale = {n for n in rows if ENV_NAME.match(n)} - set(expected) - CLIENT_ENV
    assert sorted(stale) == [], "README names settings that do not exist"


def test_settings_reference_defaults_match_the_code() -> None:
    rows = rows_by_name("Settings reference")
    wrong = []
    for env, defaults in env_defaults().items():
        cell = rows[env][1]
        for default in defaults:
            text = shown(default)
            if text is not None and f"`{text}`" not in cell:
                wrong.append(f"{env}: default `{text}` not in {cell!r}")
    assert wrong == []


DERIVED = [
    (InferenceSettings, "model_uri", ["INFERENCE_MODEL_URI", "MODEL_URI"]),
    (InferenceSettings, "track", ["INFERENCE_TRACK", "TRACK"]),
    (InferenceSettings, "shadow", ["INFERENCE_SHADOW", "SHADOW"]),
    (
        InferenceSettings,
        "baseline_model_uri",
        ["INFERENCE_BASELINE_MODEL_URI", "BASELINE_MODEL_URI"],
    ),
    (InferenceSettings, "redis_url", ["INFERENCE_REDIS_URL", "REDIS_URL"]),
    (BatchSettings, "model_uri", ["BATCH_MODEL_URI", "MODEL_URI"]),
    (BatchSettings, "redis_url", ["BATCH_REDIS_URL", "REDIS_URL"]),
    (
        TrainerSettings,
        "mlflow_tracking_uri",
        ["MLFLOW_TRACKING_URI", "TRAINER_MLFLOW_TRACKING_URI"],
    ),
    (ControllerSettings, "namespaces", ["CONTROLLER_NAMESPACES"]),
]


@pytest.mark.parametrize(("cls", "field", "names"), DERIVED)
def test_the_documented_names_are_read_and_the_first_wins(
    monkeypatch: pytest.MonkeyPatch, cls: type[BaseSettings], field: str, names: list[str]
) -> None:
    """Each name the table derives is read; with several set, the one the README says
    wins (listed first here) does."""
    for name in {n for _, _, ns in DERIVED for n in ns}:
        monkeypatch.delenv(name, raising=False)
    values: list[Any] = {"track": ["stable", "canary"], "shadow": [False, True]}.get(
        field, [f"value-{i}" for i in range(2)]
    )
    for name, value in zip(reversed(names), values, strict=False):
        monkeypatch.setenv(name, str(value).lower() if isinstance(value, bool) else value)
        assert getattr(cls(), field) in (value, [value]), name
    assert getattr(cls(), field) in (value, [value]), f"{names[0]} does not win"


# ------------------------------------------------------------------ ModelRollout
def crd_fields() -> dict[str, Any]:
    """Leaf field paths of the CRD's spec schema -> the CRD's default (None: no default)."""
    crd = yaml.safe_load((REPO / "k8s" / "crd" / "modelrollouts.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    found: dict[str, Any] = {}

    def walk(schema: dict[str, Any], path: str) -> None:
        if schema.get("type") == "array" and "properties" in schema.get("items", {}):
            walk(schema["items"], path + "[]")
        elif "properties" in schema:
            for name, sub in schema["properties"].items():
                walk(sub, f"{path}.{name}" if path else name)
        else:
            found[path] = schema.get("default")

    walk(spec, "")
    return found


def test_modelrollout_reference_lists_every_field() -> None:
    expected = crd_fields()
    rows = rows_by_name("ModelRollout reference")
    assert len(expected) > 40
    assert sorted(set(expected) - set(rows)) == [], "missing from README 'ModelRollout reference'"
    assert sorted(set(rows) - set(expected)) == [], "README names fields the CRD does not have"


def test_modelrollout_reference_defaults_match_the_crd() -> None:
    rows = rows_by_name("ModelRollout reference")
    wrong = [
        f"{path}: CRD default `{shown(default)}` not in {rows[path][1]!r}"
        for path, default in crd_fields().items()
        if default is not None and f"`{shown(default)}`" not in rows[path][1]
    ]
    assert wrong == []


def test_required_fields_say_so() -> None:
    rows = rows_by_name("ModelRollout reference")
    assert rows["targetRef.name"][1] == rows["model.uri"][1] == "required"


# ------------------------------------------------------------------ metrics
def families(text: str) -> dict[str, set[str]]:
    """Exposed metric name (``_total`` for counters) -> its label names."""
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):
            continue  # the client library's creation timestamps of counters and histograms
        name = family.name + ("_total" if family.type == "counter" else "")
        labels = {k for s in family.samples for k in s.labels if k != "le"}
        found.setdefault(name, set()).update(labels)
    return found


def from_objects(*metrics: Any) -> dict[str, set[str]]:
    """Name -> labels of prometheus_client metric objects (children need not exist)."""
    found = {}
    for metric in metrics:
        (family,) = metric.describe()
        suffix = "_total" if family.type == "counter" else ""
        found[family.name + suffix] = set(metric._labelnames)
    return found


@pytest.fixture
def batch_api_text(tmp_path: Path) -> Iterator[str]:
    from prometheus_client import generate_latest

    from services.batch.metrics import api_registry
    from services.batch.state.backend import Backend

    server = RedisServer(tmp_path / "redis").start()
    try:
        backend = Backend.connect(BatchSettings(redis_url=server.url, storage_dir=tmp_path))
        yield generate_latest(api_registry(backend.store, backend.enqueuer.queue)).decode()
    finally:
        server.stop()


def exported_metrics(batch_api_text: str) -> dict[str, set[str]]:
    import numpy as np
    from prometheus_client import CollectorRegistry, generate_latest

    import controller.metrics as own
    import services.batch.metrics as batch
    from services.core.decisions.metrics import DecisionMetrics
    from services.inference.metrics import InferenceMetrics

    record = CollectorRegistry()
    DecisionMetrics(record)
    inference = InferenceMetrics()
    model = ("credit-default", "1", "stable")
    inference.serve(model, ["income"], "default", "models:/credit-default/1")
    inference.observe_request(model, "/api/v1/predict", "POST", 200, 0.01)
    inference.observe_scores(model, np.array([0, 1]), np.array([0.1, 0.9]))
    paired = inference.paired((*model, "1"), ["low", "high"], ["low", "high"])
    paired.observe_one(1, 0, "high", "low", 0.9, 0.2)
    inference.baseline_status(model, "models:/credit-default/1", paired=True)
    return {
        **families(inference.exposition().decode()),
        **families(batch_api_text),
        **families(generate_latest(record).decode()),
        **from_objects(batch.CHUNK_SECONDS, batch.WORKER_ROWS, batch.WORKER_CHUNKS),
        **from_objects(own.ROLLOUTS, own.ANALYSES, own.TRANSITIONS, own.ACTIONS, own.RECONCILE),
        **from_objects(own.WEBHOOK_CALLS, own.WEBHOOK_ATTEMPTS, own.NOTIFICATIONS),
    }


def test_metrics_reference_lists_every_metric_with_its_labels(batch_api_text: str) -> None:
    expected = exported_metrics(batch_api_text)
    assert len(expected) >= 20, expected
    rows = rows_by_name("Metrics reference")
    assert sorted(set(expected) - set(rows)) == [], "missing from README 'Metrics reference'"
    assert sorted(set(rows) - set(expected)) == [], "README names metrics nobody exports"
    wrong = []
    for name, labels in expected.items():
        listed = set(readme.ticked(rows[name][2]))
        if listed != labels:
            wrong.append(f"{name}: README labels {sorted(listed)}, exported {sorted(labels)}")
    assert wrong == []
