"""``load_model`` against a real MLflow registry (a SQLite store, in the test's process):
the registry half of ``services.core.model_store`` (an alias pinned once, the version's
artifacts downloaded into a fresh temporary folder, the model named by the registry).
In-process so that mutation testing (``make mutate``) sees these tests reach that code; the
trained model is made once per process (``once_per_process``), so mutmut's forked mutant
processes inherit it instead of training again."""

from __future__ import annotations

import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import mlflow
import numpy as np
import pytest

from services.core.model_store import ModelGone, ModelLoadError, load_folder, load_model
from services.core.registry import set_alias
from tests.support.models import TrainedModel, once_per_process, tracking_uri_for, train_quick

pytestmark = pytest.mark.integration


@pytest.fixture
def registered() -> TrainedModel:
    def train() -> TrainedModel:
        return train_quick(tracking_uri_for(Path(tempfile.mkdtemp(prefix="registry-"))), "default")

    trained: TrainedModel = once_per_process("model-store-registry", train)
    return trained


@pytest.fixture
def made_folders(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Path]]:
    """Every temporary folder ``mkdtemp`` makes, with its prefix (a pass-through spy)."""
    made: list[tuple[str, Path]] = []
    real = tempfile.mkdtemp

    def spy(*args: object, **kwargs: object) -> str:
        path = real(*args, **kwargs)  # type: ignore[call-overload]
        made.append((str(kwargs.get("prefix", "")), Path(path)))
        return str(path)

    monkeypatch.setattr(tempfile, "mkdtemp", spy)
    return made


def defaults_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow's process-wide defaults (and their environment variables) pointed at another,
    empty store: the version must be resolved and downloaded from the store named by the
    call, not from whatever the process used last."""
    elsewhere = tracking_uri_for(tmp_path / "elsewhere")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", elsewhere)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", elsewhere)
    mlflow.set_tracking_uri(elsewhere)
    mlflow.set_registry_uri(elsewhere)


def rows(model_features: int) -> np.ndarray:
    return np.random.default_rng(7).uniform(0, 1000, size=(5, model_features)).astype(np.float32)


def test_an_alias_is_pinned_to_its_version_and_downloaded_into_a_fresh_folder(
    registered: TrainedModel,
    made_folders: list[tuple[str, Path]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = registered.summary.model_name
    version = registered.summary.version
    set_alias(registered.tracking_uri, name, "store-test", version)
    defaults_elsewhere(tmp_path, monkeypatch)

    model = load_model(f"models:/{name}@store-test", registered.tracking_uri, nthread=1)

    assert (model.name, model.version) == (name, version)
    assert model.uri == f"models:/{name}@store-test"
    [(prefix, folder)] = made_folders
    assert prefix == "model-"
    assert folder.is_dir()
    assert any(folder.rglob("*.json"))
    # the downloaded folder is the version's model: the same predictions as loading it anew
    again = load_folder("again", name, version, folder, 1)
    data = rows(len(model.contract.features))
    np.testing.assert_array_equal(model.probabilities(data), again.probabilities(data))


def test_a_fixed_version_loads_as_that_version(
    registered: TrainedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = registered.summary.model_name
    version = registered.summary.version
    defaults_elsewhere(tmp_path, monkeypatch)
    model = load_model(f"models:/{name}/{version}", registered.tracking_uri)
    assert (model.name, model.version) == (name, version)
    assert model.contract.feature_names == model.booster.feature_names


def test_a_run_uri_is_named_by_its_contract(registered: TrainedModel) -> None:
    run_uri = f"runs:/{registered.summary.run_id}/model"
    model = load_model(run_uri, registered.tracking_uri)
    assert model.version == "run"
    assert model.name == model.contract.model_name


def test_a_version_the_registry_does_not_have_is_gone(registered: TrainedModel) -> None:
    name = registered.summary.model_name
    with pytest.raises(ModelGone, match=f"models:/{name}/999"):
        load_model(f"models:/{name}/999", registered.tracking_uri)


class _NotFound(BaseHTTPRequestHandler):
    """Answers every request 404 with an empty body on a kept-alive connection (what a
    pod's first request to a not yet routed Service address met on kind)."""

    protocol_version = "HTTP/1.1"
    connections = 0

    def setup(self) -> None:
        type(self).connections += 1
        super().setup()

    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # no stderr noise
        pass


def test_a_failed_load_dials_the_tracking_server_again_on_the_next_try() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tracking = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for attempt in (1, 2):
            with pytest.raises(ModelLoadError, match="404"):
                load_model("models:/credit-default@champion", tracking)
            # a pooled connection would be reused (still 1): the wrong answer forever
            assert _NotFound.connections == attempt
    finally:
        server.shutdown()
        server.server_close()
