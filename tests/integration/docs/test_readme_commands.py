"""Every command in README.md is executed: by a test here, by another test or workflow
(the allow-list in ``coverage.py`` says which, and is checked), or by ``make demo``.

- ``test_local_services`` runs the "Run the services on your machine" lines and every API
  example as a user would, in README order, in one shell session: the trainer trains a
  real model into a temporary MLflow store, Redis, the inference service, the batch API,
  a batch worker and the MLflow UI run as real processes, and every ``curl -s`` example is
  run as ``curl -sf`` (fails on any non-2xx answer). Substituted in the text: ports (free
  ones), the MLflow store of ``mlflow ui``, ``curl -s`` -> ``curl -sf``. Set in the
  environment: ``MLFLOW_TRACKING_URI``, ``REDIS_URL``, ``BATCH_API_URL`` and
  ``BATCH_STORAGE_DIR`` (temporary ones), and for speed only 3 CV folds and one imbalance
  strategy for the trainer. The API keys are the ones the README lines generate.
- ``test_kubernetes_commands`` runs the ``kubectl``/``helm`` lines of the Kubernetes
  quick start against a real kube-apiserver (tests/support/controlplane.py) with the
  Gateway API CRDs installed, as a cluster with Gateway API would have them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.integration.deploy.chart import TOOLS
from tests.integration.docs import coverage, readme
from tests.integration.docs.coverage import KUBE, LOCAL, Elsewhere
from tests.integration.docs.readme import REPO, Command
from tests.integration.docs.shell import Shell, http_status, wait_until
from tests.support.controlplane import ControlPlane, build_if_missing
from tests.support.models import tracking_uri_for
from tests.support.processes import free_port, wait_for_port

pytestmark = pytest.mark.integration

COMMANDS = readme.commands()
OWN_PREFIXES = ("INFERENCE_", "BATCH_", "TRAINER_", "CONTROLLER_")
OWN_NAMES = {"MODEL_URI", "TRACK", "REDIS_URL", "MLFLOW_TRACKING_URI", "KUBECONFIG", "API_KEY"}


def clean_environ() -> dict[str, str]:
    """The caller's environment without any setting of ours (the README's must decide)."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(OWN_PREFIXES) and k not in OWN_NAMES
    }


def python_on_path(folder: Path) -> str:
    """A folder whose ``python`` is this interpreter (the README says ``python``)."""
    folder.mkdir(exist_ok=True)
    (folder / "python").symlink_to(sys.executable)
    return f"{folder}:{Path(sys.executable).parent}:{TOOLS}:{os.environ['PATH']}"


# ------------------------------------------------------------------ (a) the allow-list
def test_every_readme_command_is_covered() -> None:
    assert COMMANDS, "no shell commands found in README.md"
    unknown = [
        b
        for b in readme.blocks()
        if b.language not in readme.SHELL_LANGUAGES | readme.OTHER_LANGUAGES
    ]
    assert not unknown, f"code fences need a known language (bash, json, ...): {unknown}"
    problems = []
    for command in COMMANDS:
        found = coverage.rules_for(command)
        if len(found) != 1:
            problems.append(f"line {command.line}: {len(found)} rules for {command.key!r}")
    unused = [r.match for r in coverage.RULES if not any(r.covers(c) for c in COMMANDS)]
    assert not problems, (
        "add each README command to tests/integration/docs/coverage.py:\n" + "\n".join(problems)
    )
    assert not unused, f"rules for commands no longer in README.md: {unused}"


def make_targets() -> set[str]:
    found: set[str] = set()
    for path in (REPO / "Makefile", *sorted((REPO / "mk").glob("*.mk"))):
        found |= set(re.findall(r"^([a-z][a-z0-9-]*):", path.read_text(), re.M))
    return found


def test_every_make_target_in_the_readme_exists() -> None:
    text = readme.text()
    named = {t for m in re.findall(r"`make ([a-z][a-z0-9 -]*)`", text) for t in m.split()}
    for command in COMMANDS:
        if command.key.startswith("make "):
            named |= set(command.key.split()[1:])
    assert named >= {"demo", "test", "soak"}, named
    assert sorted(named - make_targets()) == []


ELSEWHERE = sorted(
    {(w.path, w.needles) for r in coverage.RULES for w in r.where if isinstance(w, Elsewhere)}
)


@pytest.mark.parametrize(("path", "needles"), ELSEWHERE, ids=[p for p, _ in ELSEWHERE])
def test_elsewhere_really_runs_it(path: str, needles: tuple[str, ...]) -> None:
    text = (REPO / path).read_text()
    assert [n for n in needles if n not in text] == [], path


def test_kind_targets_are_the_ones_test_scripts_runs() -> None:
    from tests.integration.deploy.test_scripts import KIND_TARGETS

    named = {t for c in COMMANDS if c.key.startswith("make ") for t in c.key.split()[1:]}
    assert named & set(KIND_TARGETS) == {
        "kind-up",
        "images",
        "kind-load",
        "deploy",
        "e2e-kind",
        "kind-down",
        "test-kind",
    }


# ------------------------------------------------------------------ (b) the local services
class Ports:
    def __init__(self) -> None:
        found: set[int] = set()
        while len(found) < 4:
            found.add(free_port())
        self.inference, self.batch, self.redis, self.mlflow = sorted(found)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[tuple[Shell, Ports, Path]]:
    ports = Ports()
    work = tmp_path / "work"
    work.mkdir()
    (work / "data").symlink_to(REPO / "data")  # the README runs from the repository root
    store = tracking_uri_for(tmp_path / "mlflow")
    storage = tmp_path / "batch"
    (storage / "inputs").mkdir(parents=True)
    shutil.copy(REPO / "data" / "default.csv", storage / "inputs" / "book.csv")
    env = {
        **clean_environ(),
        "PATH": python_on_path(tmp_path / "bin"),
        "PYTHONPATH": str(REPO),
        "MLFLOW_TRACKING_URI": store,
        "REDIS_URL": f"redis://127.0.0.1:{ports.redis}/0",
        "BATCH_API_URL": f"http://127.0.0.1:{ports.batch}",
        "BATCH_STORAGE_DIR": str(storage),
        "INFERENCE_HOST": "127.0.0.1",
        "BATCH_HOST": "127.0.0.1",
        "TRAINER_CV_FOLDS": "3",  # speed only: the same pipeline, fewer folds
        "TRAINER_IMBALANCE": "scale_pos_weight",
        "TRAINER_NTHREAD": "2",
        "BATCH_NTHREAD": "1",
        "GIT_PYTHON_REFRESH": "quiet",
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
        **{f"{p}LOG_LEVEL": "WARNING" for p in OWN_PREFIXES},
        **{f"{p}LOG_JSON": "false" for p in OWN_PREFIXES},
    }
    subs = {
        "localhost:8080": f"127.0.0.1:{ports.inference}",
        "--port 8080": f"--port {ports.inference}",
        "localhost:8001": f"127.0.0.1:{ports.batch}",
        "--port 8001": f"--port {ports.batch}",
        "--port 6379": f"--port {ports.redis}",
        "127.0.0.1:6379": f"127.0.0.1:{ports.redis}",
        "--port 5000": f"--port {ports.mlflow}",
        "sqlite:///.mlflow/mlflow.db": store,
        "curl -s ": "curl -sf ",
    }
    shell = Shell(work, env, subs, tmp_path / "shell")
    try:
        yield shell, ports, work
    finally:
        shell.stop_all()


def _wait_started(shell: Shell, command: Command, ports: Ports) -> None:
    """Block until the process a ``&`` line started serves (or fail with its log)."""
    proc = shell.background[-1][1]

    def up(url: str) -> bool:
        assert proc.poll() is None, f"README line {command.line} exited:\n{shell.log_of(command)}"
        return http_status(url) == 200

    key = command.key
    if "redis-server" in key:
        wait_for_port(ports.redis, timeout=30)
    elif "services.inference" in key:
        wait_until("inference /readyz", lambda: up(f"http://127.0.0.1:{ports.inference}/readyz"))
    elif "services.batch api" in key:
        wait_until("batch /readyz", lambda: up(f"http://127.0.0.1:{ports.batch}/readyz"))
    elif "mlflow ui" in key:
        wait_until("the MLflow UI", lambda: up(f"http://127.0.0.1:{ports.mlflow}/"), timeout=180)
    elif "services.batch worker" not in key:
        raise AssertionError(f"no readiness check for {key!r}")


def _job_state(shell: Shell, ports: Ports) -> str:
    import httpx

    response = httpx.get(
        f"http://127.0.0.1:{ports.batch}/api/v1/jobs/{shell.env['JOB']}",
        headers={"X-API-Key": shell.env["API_KEY"]},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["state"])


def test_local_services(session: tuple[Shell, Ports, Path]) -> None:
    shell, ports, work = session
    commands = coverage.run_here(LOCAL, COMMANDS)
    worker = next(c for c in commands if c.key.startswith("python -m services.batch worker"))
    cancels = [c for c in commands if "/cancel" in c.key]
    assert cancels, "the README shows how to cancel a job"
    for command in commands:
        if command is worker or command in cancels:
            continue  # the worker starts once a job waits to be cancelled, see below
        if command.background:
            shell.spawn(command)
            _wait_started(shell, command, ports)
            continue
        shell.run(command)
        if command.key.startswith("JOB=") and worker.key not in shell.ran:
            # no worker yet: this job stays queued, so cancelling it must succeed (2xx)
            for cancel in cancels:
                shell.run(cancel)
            assert _job_state(shell, ports) == "cancelled"
            shell.spawn(worker)
            shell.run(command)  # a fresh job for the examples that follow
    assert [c.key for c in commands if c.key not in shell.ran] == []
    print(*sorted(shell.seconds, reverse=True)[:8], sep="\n")
    _check_local_outcomes(shell, work, ports)


def _check_local_outcomes(shell: Shell, work: Path, ports: Ports) -> None:
    """What the README promises those commands produce."""
    assert len(shell.env["API_KEY"]) == 32
    for url in (
        f"http://127.0.0.1:{ports.inference}/api/v1/model/info",
        f"http://127.0.0.1:{ports.batch}/api/v1/jobs",
    ):
        assert http_status(url) == 401, f"{url} answers without the README's API key"
    scored = pd.read_csv(work / "scored.csv")
    reasons = [
        f"reason_{i}{part}" for i in range(1, 5) for part in ("", "_feature", "_contribution")
    ]
    assert list(scored.columns) == [
        "row",
        "loan_id",
        "probability",
        "prediction",
        "risk_band",
        "model_version",
        *reasons,
    ]
    assert scored["loan_id"].tolist() == ["L1"]
    assert len(pd.read_parquet(work / "scored.parquet")) == 1
    paths = json.loads((work / "inference-openapi.json").read_text())["paths"]
    assert {"/api/v1/predict", "/api/v1/predict/bulk", "/api/v1/model/info"} <= set(paths)
    assert (
        "/api/v1/jobs/{job_id}/cancel"
        in json.loads((work / "batch-openapi.json").read_text())["paths"]
    )
    from controller.spec import RolloutSpec

    manifest = yaml.safe_load((work / "rollout.yaml").read_text())
    assert manifest["kind"] == "ModelRollout"
    assert RolloutSpec.model_validate(manifest["spec"]).model.uri == "models:/credit-data/1"


def test_every_endpoint_has_a_curl_example() -> None:
    """Each operation of both apps' OpenAPI documents, plus the routes left out of them
    (inference ``/metrics``, the documents themselves), has a README curl example."""
    from services.batch.api.app import create_app as batch_app
    from services.batch.settings import BatchSettings
    from services.inference.app import create_app as inference_app
    from services.inference.settings import InferenceSettings

    apps = {
        "8080": inference_app(InferenceSettings(log_json=False)),
        "8001": batch_app(BatchSettings(redis_url="redis://127.0.0.1:1/0", log_json=False)),
    }
    routes = {
        (port, method.upper(), path)
        for port, app in apps.items()
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert len(routes) >= 16, routes
    routes |= {("8080", "GET", "/metrics"), ("8080", "GET", "/openapi.json")}
    routes |= {("8001", "GET", "/openapi.json")}
    shown = set()
    for command in COMMANDS:
        for port, path in re.findall(r"localhost:(8080|8001)(/[^\s\"'?]*)", command.key):
            method = re.search(r"-X (\w+)", command.key)
            verb = (
                method.group(1)
                if method
                else ("POST" if re.search(r" (-d|-F|--data-binary) ", command.key) else "GET")
            )
            path = path.replace("$JOB", "{job_id}").replace("$REQUEST_ID", "{request_id}")
            shown.add((port, verb, path))
    assert sorted(routes - shown) == []


# ------------------------------------------------------------------ kubectl and helm
@pytest.fixture(scope="module")
def apiserver() -> Iterator[ControlPlane]:
    build_if_missing(["kube-apiserver"])
    plane = ControlPlane()
    try:
        plane.start()
        plane.apply(plane.crd_dir("gateway-api"))  # "a cluster with the Gateway API CRDs"
        yield plane
    finally:
        plane.stop()


def test_kubernetes_commands(apiserver: ControlPlane, tmp_path: Path) -> None:
    env = {
        **clean_environ(),
        "KUBECONFIG": str(apiserver.kubeconfig),
        "PATH": f"{TOOLS}:{os.environ['PATH']}",
        "HOME": str(tmp_path),  # kubectl's and helm's caches
    }
    shell = Shell(REPO, env, {}, tmp_path / "shell")
    commands = coverage.run_here(KUBE, COMMANDS)
    assert commands
    for command in commands:
        out = shell.run(command, timeout=300)
        key = command.key
        if key.startswith("export API_KEY="):
            assert len(shell.env["API_KEY"]) == 40  # the key the chart generated
        elif key.startswith("kubectl -n credit-risk delete job"):
            assert "creditrisk-trainer" in out
        elif "--reuse-values" in key:
            job = apiserver.kubectl(
                "get", "job", "creditrisk-trainer", "-n", "credit-risk", check=False
            )
            assert job.returncode == 0, "helm upgrade did not re-create the trainer Job"
        elif key.endswith("get modelrollouts"):
            header = out.splitlines()[0].split()
            assert header[:6] == ["NAME", "PHASE", "STABLE", "CANARY", "WEIGHT", "FAILED"], out
            assert "credit-default" in out
        elif "annotate mro" in key:
            got = apiserver.kubectl(
                "get", "mro", "credit-default", "-n", "credit-risk", "-o", "json"
            )
            annotations = json.loads(got.stdout)["metadata"]["annotations"]
            assert annotations["mlops.creditrisk.io/action"] == "abort"
    assert [c.key for c in commands if c.key not in shell.ran] == []
    gone = apiserver.kubectl("get", "mro", "credit-default", "-n", "credit-risk", check=False)
    assert gone.returncode != 0, "the ModelRollout is still there"
    apiserver.kubectl("get", "crd", "modelrollouts.mlops.creditrisk.io")  # "the CRD stays"
    release = apiserver.kubectl("get", "deploy", "-n", "credit-risk", "-o", "name")
    assert release.stdout.strip() == "", "helm uninstall left Deployments behind"


def test_the_kubernetes_example_is_a_valid_spec() -> None:
    from controller.spec import RolloutSpec

    doc = yaml.safe_load((REPO / "k8s" / "examples" / "modelrollout-creditrisk.yaml").read_text())
    spec = RolloutSpec.model_validate(doc["spec"])
    assert spec.target_ref.name == "creditrisk-inference" == spec.http_route
    assert spec.model.ref.alias == "challenger"
    assert spec.shadow.enabled, "new rollouts of the chart's example start with a shadow phase"
