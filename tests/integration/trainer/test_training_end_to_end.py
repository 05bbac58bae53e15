"""Real training runs into a temporary MLflow store, one per bundled dataset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from services.core.contract import ModelContract
from services.core.model_store import load_model
from services.core.registry import aliases_of, client
from tests.support.models import TrainedModel, tracking_uri_for, train_quick

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("fixture", "min_auc"),
    [("default_model", 0.93), ("lending_club_model", 0.70), ("credit_data_model", 0.83)],
)
def test_each_dataset_trains_registers_and_clears_its_auc(
    fixture: str, min_auc: float, request: pytest.FixtureRequest
) -> None:
    trained: TrainedModel = request.getfixturevalue(fixture)
    summary = trained.summary
    assert summary.metrics["roc_auc"] >= min_auc
    assert summary.gate["passed"]
    assert set(summary.aliases) == {"champion", "challenger"}  # first version of its name
    version = client(trained.tracking_uri).get_model_version(summary.model_name, summary.version)
    assert version.tags["quality_gate"] == "passed"
    model = load_model(trained.uri, trained.tracking_uri)
    assert model.contract.metrics["roc_auc"] == pytest.approx(summary.metrics["roc_auc"], abs=1e-4)
    assert set(model.contract.reference) == set(model.contract.feature_names)


def test_contract_artifact_loads_back(default_model: TrainedModel) -> None:
    run_id = default_model.summary.run_id
    client(default_model.tracking_uri)
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="contract.json")
    contract = ModelContract.load(Path(path))
    assert contract.feature_names == ["student", "balance", "income"]
    assert contract.data_fingerprint.startswith("sha256:")
    for plot in ("roc.png", "pr.png", "calibration.png"):
        assert mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=f"plots/{plot}")


def test_logged_pyfunc_scores_missing_values_and_categoricals(
    credit_data_model: TrainedModel,
) -> None:
    client(credit_data_model.tracking_uri)
    pyfunc = mlflow.pyfunc.load_model(credit_data_model.uri)
    rows = pd.DataFrame(
        {
            "Seniority": [9, 0],
            "Home": ["rent", None],
            "Time": [60, 36],
            "Age": [30, 22],
            "Marital": ["married", None],
            "Records": ["no", "yes"],
            "Job": ["freelance", None],
            "Expenses": [73, 50],
            "Income": [129.0, np.nan],
            "Assets": [0.0, np.nan],
            "Debt": [0.0, np.nan],
            "Amount": [800, 2000],
            "Price": [846, 2100],
        }
    )
    out = pyfunc.predict(rows)
    assert list(out.columns) == ["probability", "prediction", "risk_band"]
    assert out["probability"].between(0, 1).all()
    served = load_model(credit_data_model.uri, credit_data_model.tracking_uri)
    from services.core.encoding import encode_frame

    np.testing.assert_allclose(
        out["probability"], served.probabilities(encode_frame(served.contract.features, rows))
    )


def test_second_version_becomes_challenger_and_bad_one_fails_gate(tmp_path: Path) -> None:
    uri = tracking_uri_for(tmp_path / "store")
    first = train_quick(uri, "default", model_name="m")
    second = train_quick(uri, "default", model_name="m", seed=7)
    assert second.summary.gate["champion_roc_auc"] is not None
    assert aliases_of(uri, "m", first.summary.version) == ["champion"]
    assert aliases_of(uri, "m", second.summary.version) == ["challenger"]
    third = train_quick(uri, "default", model_name="m", gate_min_roc_auc=0.999)
    assert not third.summary.gate["passed"]
    assert aliases_of(uri, "m", third.summary.version) == []
    assert aliases_of(uri, "m", second.summary.version) == ["challenger"]


def test_cli_prints_one_json_line_and_writes_rollout(tmp_path: Path) -> None:
    uri = tracking_uri_for(tmp_path / "cli")
    manifest = tmp_path / "rollout.yaml"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.trainer",
            "--mlflow-tracking-uri",
            uri,
            "--cv-folds",
            "2",
            "--imbalance",
            "scale_pos_weight",
            "--rollout-manifest",
            str(manifest),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["uri"] == "models:/credit-default/1"
    assert "models:/credit-default/1" in manifest.read_text()


def test_cli_reports_bad_data_with_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("default,student,balance,income\nNo,No,abc,1\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.trainer",
            "--data-path",
            str(bad),
            "--mlflow-tracking-uri",
            tracking_uri_for(tmp_path / "s"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "balance: 1 values that are not numbers (rows 1)" in proc.stderr


def test_trains_on_synthetic_frames_with_categorical_dtype(tmp_path: Path) -> None:
    from services.core.datasets import load_config
    from services.core.synthetic import ApplicantGenerator

    gen = ApplicantGenerator.from_config(load_config("default"))
    encoded, labels = gen.sample_encoded(5000, seed=3)
    from services.trainer.pipeline import train
    from services.trainer.settings import TrainerSettings

    settings = TrainerSettings(
        mlflow_tracking_uri=tracking_uri_for(tmp_path / "syn"),
        cv_folds=2,
        imbalance="scale_pos_weight",
    )
    summary = train(settings, (gen.to_frame(encoded), labels))
    assert summary.metrics["roc_auc"] > 0.9
