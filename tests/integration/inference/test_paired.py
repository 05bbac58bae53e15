"""Paired scoring against a real MLflow store: the served model (v2) and a baseline (v1)
score the same applicants; the answers are v2's alone, byte for byte those of a pod
without a baseline, and the paired metrics count exactly what the two models answered.
A paired pod's decision record carries the baseline's answer to each applicant. A
baseline that is missing or reads other features leaves the pod ready and unpaired; a
paired pod keeps its own rate-limit budgets."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pytest

from services.core import telemetry as t
from services.core.decisions.settings import DecisionSettings
from services.core.registry import client
from tests.integration.inference.harness import (
    ADMIN,
    AUTH,
    OTHER_KEY,
    Service,
    applicants,
    make_settings,
    metric,
    running,
)
from tests.support.models import TrainedModel
from tests.support.postgres import PostgresServer
from tests.support.processes import RedisServer
from tests.support.waits import wait_for_async

pytestmark = pytest.mark.integration

NAME = "paired-model"
N = 150
Samples = list[tuple[str, dict[str, str], float]]


@dataclass(frozen=True)
class Registered:
    tracking_uri: str

    @staticmethod
    def uri(version: int) -> str:
        return f"models:/{NAME}/{version}"


def register_copy(model: TrainedModel, folder: Path, edit: Callable[[dict], None]) -> str:
    """``model``'s files, its contract edited, as the next version of ``NAME``."""
    registry = client(model.tracking_uri)
    path = Path(mlflow.artifacts.download_artifacts(artifact_uri=model.uri, dst_path=str(folder)))
    contract_path = next(path.rglob("contract.json"))
    contract = json.loads(contract_path.read_text())
    edit(contract)
    contract_path.write_text(json.dumps(contract))
    experiment = registry.get_experiment_by_name("Default")
    assert experiment is not None
    run = registry.create_run(experiment.experiment_id)
    registry.log_artifacts(run.info.run_id, str(path), artifact_path="model")
    registry.set_terminated(run.info.run_id)
    if not registry.search_registered_models(f"name = '{NAME}'"):
        registry.create_registered_model(NAME)
    made = registry.create_model_version(NAME, f"{run.info.artifact_uri}/model", run.info.run_id)
    return str(made.version)


def shift_scores(contract: dict) -> None:
    """Another calibration (log-odds + 0.7) and threshold: some decisions and bands move."""
    contract["calibration"]["b"] = contract["calibration"].get("b", 0.0) + 0.7
    contract["threshold"] = min(0.9, contract["threshold"] + 0.05)


def reorder_levels(contract: dict) -> None:
    """A model whose ``student`` codes mean the opposite level: cannot read v2's rows."""
    student = next(f for f in contract["features"] if f["name"] == "student")
    student["levels"] = list(reversed(student["levels"]))


@pytest.fixture(scope="module")
def versions(default_model: TrainedModel, tmp_path_factory: pytest.TempPathFactory) -> Registered:
    """v1 (the baseline) = the default model; v2 (served) = its scores shifted; v3 = v1 with
    the ``student`` levels reordered."""
    made = [
        register_copy(default_model, tmp_path_factory.mktemp("v"), edit)
        for edit in (lambda c: None, shift_scores, reorder_levels)
    ]
    assert made == ["1", "2", "3"]
    return Registered(default_model.tracking_uri)


def settings(versions: Registered, served: int, baseline: str = "", **kw: Any) -> Any:
    return make_settings(
        model_uri=versions.uri(served),
        mlflow_tracking_uri=versions.tracking_uri,
        baseline_model_uri=baseline,
        track="canary",
        **kw,
    )


def without_id(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


async def singles(svc: Service, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        response = await svc.predict(row)
        assert response.status_code == 200, response.text
        out.append(without_id(response.json()))
    return out


async def bulk(svc: Service, rows: list[dict[str, Any]]) -> dict[str, Any]:
    response = await svc.bulk(rows)
    assert response.status_code == 200, response.text
    return without_id(response.json())


def paired_samples(samples: Samples) -> dict[tuple[str, tuple], float]:
    names = (t.PAIRED_DECISIONS, t.PAIRED_BANDS, t.PAIRED_SCORE_DIFF, t.BASELINE_SCORE)
    return {
        (name, tuple(sorted(labels.items()))): round(value, 6)
        for name, labels, value in samples
        if name.startswith(names) and not name.endswith("_created")
    }


async def test_paired_pod_answers_like_a_plain_pod_and_counts_every_pair(
    versions: Registered,
) -> None:
    rows = applicants("default", N, seed=7)
    async with (
        running(settings(versions, 2)) as plain,
        running(settings(versions, 1)) as baseline,
        running(settings(versions, 2, versions.uri(1))) as single,
        running(settings(versions, 2, versions.uri(1))) as batched,
    ):
        expected = await singles(plain, rows)
        expected_bulk = await bulk(plain, rows)
        base = (await bulk(baseline, rows))["predictions"]
        assert await singles(single, rows) == expected  # the served model's answers only
        assert await bulk(batched, rows) == expected_bulk
        info = (await single.info())["baseline"]
        one, many = await single.metrics(), await batched.metrics()

    assert info == {
        "uri": versions.uri(1),
        "version": "1",
        "paired": True,
        "status": f"baseline {NAME} v1 paired with {NAME} v2",
    }
    served = expected_bulk["predictions"]
    assert [r["prediction"] for r in served] == [r["prediction"] for r in expected]
    labels = {"model_name": NAME, "model_version": "2", "track": "canary", "baseline_version": "1"}
    outcome = {1: t.DEFAULT_OUTCOME, 0: t.NO_DEFAULT_OUTCOME}
    flips = sum(s["prediction"] != b["prediction"] for s, b in zip(served, base, strict=True))
    migrations = sum(s["risk_band"] != b["risk_band"] for s, b in zip(served, base, strict=True))
    assert flips > 0
    assert migrations > 0
    for base_label in (0, 1):
        for label in (0, 1):
            count = sum(
                b["prediction"] == base_label and s["prediction"] == label
                for s, b in zip(served, base, strict=True)
            )
            found = metric(
                one,
                t.total(t.PAIRED_DECISIONS),
                **labels,
                baseline_outcome=outcome[base_label],
                outcome=outcome[label],
            )
            assert found == count, (base_label, label)
    bands = {(b["risk_band"], s["risk_band"]) for s, b in zip(served, base, strict=True)}
    for base_band, band in bands:
        count = sum(
            (b["risk_band"], s["risk_band"]) == (base_band, band)
            for s, b in zip(served, base, strict=True)
        )
        found = metric(one, t.total(t.PAIRED_BANDS), **labels, baseline_band=base_band, band=band)
        assert found == count
    assert metric(one, f"{t.PAIRED_SCORE_DIFF}_count", **labels) == N
    diffs = sum(abs(s["probability"] - b["probability"]) for s, b in zip(served, base, strict=True))
    assert metric(one, f"{t.PAIRED_SCORE_DIFF}_sum", **labels) == pytest.approx(diffs, rel=1e-6)
    assert metric(one, f"{t.BASELINE_SCORE}_count", **labels) == N
    base_sum = sum(b["probability"] for b in base)
    assert metric(one, f"{t.BASELINE_SCORE}_sum", **labels) == pytest.approx(base_sum, rel=1e-6)
    assert metric(one, t.BASELINE_LOADED, baseline_uri=versions.uri(1)) == 1.0
    assert paired_samples(one) == paired_samples(many)  # one at a time = one bulk call


def baseline_of(answer: dict[str, Any], version: str) -> dict[str, Any]:
    """A baseline pod's answer as the record's ``baseline`` holds it."""
    return {
        "version": version,
        "probability": answer["probability"],
        "prediction": answer["prediction"],
        "band": answer["risk_band"],
    }


async def recorded(svc: Service, request_id: str) -> list[dict[str, Any]]:
    found = await svc.client.get(f"/api/v1/decisions/{request_id}", headers=ADMIN)
    assert found.status_code == 200, found.text
    return list(found.json()["decisions"])


async def test_a_paired_pods_decisions_record_the_baselines_answer(
    versions: Registered, postgres: PostgresServer, tmp_path: Path
) -> None:
    """The canary (v2 paired with v1) records, next to its own answer, exactly what v1
    answers for the same applicant (a v1 pod asked directly); an unpaired pod records
    none."""
    rows = applicants("default", 40, seed=11)
    record = DecisionSettings(dsn=postgres.dsn, spool_dir=tmp_path / "spool", flush_seconds=0.05)
    other = DecisionSettings(dsn=postgres.dsn, spool_dir=tmp_path / "other", flush_seconds=0.05)

    def ids(name: str) -> dict[str, str]:
        return {**AUTH, "X-Request-ID": name}

    async with (
        running(settings(versions, 1)) as baseline,
        running(settings(versions, 2, versions.uri(1)), record) as canary,
        running(settings(versions, 2), other) as plain,
    ):
        base_one = (await baseline.predict(rows[0])).json()
        base_many = (await bulk(baseline, rows))["predictions"]
        one = await canary.predict(rows[0], headers=ids("paired-one"))
        many = await canary.bulk(rows, headers=ids("paired-bulk"))
        assert one.status_code == many.status_code == 200
        assert "baseline" not in one.json()  # the client never sees it
        assert all("baseline" not in p for p in many.json()["predictions"])
        (single,) = await recorded(canary, "paired-one")
        batch = await recorded(canary, "paired-bulk")
        assert (await plain.predict(rows[0], headers=ids("plain-one"))).status_code == 200
        assert (await plain.bulk(rows[:3], headers=ids("plain-bulk"))).status_code == 200
        unpaired = await recorded(plain, "plain-one") + await recorded(plain, "plain-bulk")

    assert single["model"]["version"] == "2"
    assert single["probability"] == one.json()["probability"]  # the served model's answer
    assert single["baseline"] == baseline_of(base_one, "1")
    assert [d["baseline"] for d in batch] == [baseline_of(b, "1") for b in base_many]
    assert [d["probability"] for d in batch] == [
        p["probability"] for p in many.json()["predictions"]
    ]
    moved = [d for d in batch if d["baseline"]["band"] != d["risk_band"]]
    assert moved, "v2's shifted scores move some applicants to another band"
    assert len(unpaired) == 4
    assert [d["baseline"] for d in unpaired] == [None] * 4


@pytest.mark.parametrize(
    ("baseline", "status"),
    [
        (Registered.uri(99), f"baseline {Registered.uri(99)} not found, serving unpaired"),
        (Registered.uri(3), "cannot score the rows of"),
    ],
    ids=["missing", "incompatible"],
)
async def test_an_unusable_baseline_leaves_the_pod_ready_and_unpaired(
    versions: Registered, baseline: str, status: str
) -> None:
    rows = applicants("default", 20, seed=3)
    async with (
        running(settings(versions, 2)) as plain,
        running(settings(versions, 2, baseline)) as pod,
    ):
        assert (await pod.client.get("/readyz")).status_code == 200
        assert await singles(pod, rows) == await singles(plain, rows)
        assert await bulk(pod, rows) == await bulk(plain, rows)
        info = (await pod.info())["baseline"]
        samples = await pod.metrics()
        watcher_task = pod.app.state.watcher._task
    assert info["paired"] is False
    assert status in info["status"]
    assert metric(samples, t.BASELINE_LOADED, baseline_uri=baseline) == 0.0
    assert paired_samples(samples) == {}  # no data: the controller's gates stay inconclusive
    assert watcher_task is None or watcher_task.done()  # neither case is retried


def half_copied(versions: Registered, tmp_path: Path) -> tuple[Path, Path]:
    """A folder with v1's contract but no booster yet, and v1's booster file."""
    client(versions.tracking_uri)
    source = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=versions.uri(1), dst_path=str(tmp_path / "v1")
        )
    )
    folder = tmp_path / "baseline"
    folder.mkdir()
    shutil.copy(next(source.rglob("contract.json")), folder / "contract.json")
    return folder, next(source.rglob("booster.ubj"))


async def test_a_baseline_that_fails_to_load_is_retried_until_it_pairs(
    versions: Registered, tmp_path: Path
) -> None:
    """A load failure that may pass (here: a baseline folder without its booster yet) is
    retried every ``load_retry_seconds``; meanwhile the pod serves unpaired."""
    folder, booster = half_copied(versions, tmp_path)
    row = applicants("default", 1, seed=5)[0]
    pod_settings = settings(versions, 2, str(folder), load_retry_seconds=0.2)
    async with running(pod_settings) as pod:
        assert (await pod.predict(row)).status_code == 200
        before = await pod.info()
        assert before["baseline"]["paired"] is False
        assert "failed to load, retrying" in before["baseline"]["status"]
        assert metric(await pod.metrics(), t.BASELINE_LOADED) == 0.0
        shutil.copy(booster, folder / booster.name)

        async def paired() -> bool:
            return bool((await pod.info())["baseline"]["paired"])

        await wait_for_async("the baseline retried and paired", paired, timeout=30)
        assert (await pod.predict(row)).status_code == 200
        samples = await pod.metrics()
    labels = {"model_version": "2", "baseline_version": "local"}
    assert metric(samples, t.BASELINE_LOADED) == 1.0
    assert metric(samples, f"{t.PAIRED_SCORE_DIFF}_count", **labels) == 1  # after pairing only


async def test_paired_pods_keep_their_own_rate_limit_budget(
    versions: Registered, redis: RedisServer
) -> None:
    """A mirrored copy reaches the paired pod with the client's key after a stable pod
    counted the original: it must not spend the client's budget a second time."""
    row = applicants("default", 1, seed=1)[0]
    limits = {"rate_limit": "3/minute", "redis_url": redis.url}
    async with (
        running(settings(versions, 1, **limits)) as stable,
        running(settings(versions, 2, versions.uri(1), **limits)) as shadow,
    ):
        codes = []
        for _ in range(3):  # the client's requests, each mirrored to the shadow pod
            codes.append((await stable.predict(row)).status_code)
            codes.append((await shadow.predict(row)).status_code)
        assert codes == [200] * 6
        assert (await stable.predict(row)).status_code == 429  # the client's own budget
        assert (await shadow.predict(row)).status_code == 429  # the shadow's is bounded too
        other = {"X-API-Key": OTHER_KEY}
        assert (await stable.predict(row, headers=other)).status_code == 200
