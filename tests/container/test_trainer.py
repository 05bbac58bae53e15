"""The trainer image, run as the chart's Job runs it, trains into a mounted MLflow store
(sqlite + artifacts) and registers a version that the host's MLflow client reads."""

from __future__ import annotations

from pathlib import Path

from mlflow import MlflowClient

from tests.container.conftest import container_writable
from tests.container.docker import Container, Network, image

TRAIN_ARGS = (
    "--dataset default --model-name container-model --experiment containers "
    "--cv-folds 3 --imbalance scale_pos_weight --nthread 2"
)


def test_trains_into_a_mounted_store_and_registers_a_version(
    network: Network, containers: list[Container], tmp_path: Path
) -> None:
    store = container_writable(tmp_path)
    trainer = Container(
        image("trainer"),
        network,
        TRAIN_ARGS.split(),
        env={"MLFLOW_TRACKING_URI": "sqlite:////mlflow/mlflow.db"},
        volumes=[f"{store}:/mlflow"],
        extra=["--workdir", "/mlflow"],  # experiment artifacts under ./mlruns of the store
    )
    containers.append(trainer.start())
    code = trainer.wait(timeout=900)
    assert code == 0, trainer.logs()[-4000:]

    uri = f"sqlite:///{store / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = client.search_model_versions("name='container-model'")
    assert [str(v.version) for v in versions] == ["1"]
    run_dir = store / "mlruns"
    assert list(run_dir.rglob("booster.ubj")), sorted(p.name for p in run_dir.rglob("*"))[:50]
    assert list(run_dir.rglob("contract.json"))
