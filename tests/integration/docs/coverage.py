"""The allow-list: every shell command of README.md and where it is executed.

A README command must match exactly one rule, and every rule must match a README
command, so a new command without a home fails ``test_every_readme_command_is_covered``
and a rule for a command that left the README fails it too.

- ``Here(test)``: a test of ``test_readme_commands.py`` runs every command of the rule,
  verbatim but for host, port, key and store substitutions (see that module);
- ``Elsewhere(path, needles)``: another file runs it; ``test_elsewhere_really_runs_it``
  checks that the file exists and holds every needle (the command as that file runs it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.integration.docs.readme import Command

LOCAL = "test_local_services"  # trainer, Redis, inference, batch API + worker, MLflow UI
KUBE = "test_kubernetes_commands"  # kubectl and helm on a real kube-apiserver


@dataclass(frozen=True)
class Here:
    test: str


@dataclass(frozen=True)
class Elsewhere:
    path: str
    needles: tuple[str, ...]


Where = Here | Elsewhere


@dataclass(frozen=True)
class Rule:
    match: str  # the normalised command, or a regex when it starts with ^
    where: tuple[Where, ...]

    def covers(self, command: Command) -> bool:
        if self.match.startswith("^"):
            return re.match(self.match, command.key) is not None
        return command.key == self.match


def kind(*targets: str) -> tuple[Where, ...]:
    """The kind targets: run for real by the e2e-kind workflow (a Docker host); locally
    test_scripts.py runs each one and checks it stops at once without Docker."""
    return (
        Elsewhere(
            ".github/workflows/e2e-kind.yml", tuple(f"make -f mk/kind.mk {t}" for t in targets)
        ),
        Elsewhere(
            "tests/integration/deploy/test_scripts.py",
            ('"make", "--no-print-directory", "-f", "mk/kind.mk", target', *targets),
        ),
    )


RULES: tuple[Rule, ...] = (
    # --- quick start and development
    Rule(
        "make demo",
        (
            Elsewhere("Makefile", ("demo: ", "$(PYTHON) scripts/demo.py")),
            Elsewhere("tests/system/test_demo.py", ('DEMO = REPO_ROOT / "scripts" / "demo.py"',)),
        ),
    ),
    Rule(
        "make test",
        (
            Elsewhere(".ci/run", ("make test",)),
            Elsewhere(".github/workflows/ci.yml", ("make test",)),
        ),
    ),
    Rule("make lint", (Elsewhere(".github/workflows/ci.yml", ("run: make lint",)),)),
    # re-locking needs PyPI and moves nothing unless pyproject moved: its recipe, and the
    # unit test that fails while the lock and pyproject disagree
    Rule(
        "make lock",
        (
            Elsewhere(
                "Makefile", ("lock: ##", "uv pip compile pyproject.toml", "--generate-hashes")
            ),
            Elsewhere("tests/unit/deploy/test_lock.py", ('"dev.lock"', "run `make lock`")),
        ),
    ),
    # an hour on two cores: its recipe, and the unit test of its report
    Rule(
        "make mutate",
        (
            Elsewhere("mk/mutation.mk", ("mutate: $(STAMP)", "-m mutmut run", "mutate-report")),
            Elsewhere("tests/unit/bench/test_mutation_report.py", ("from bench.mutation_report",)),
        ),
    ),
    # three whole-suite runs (hours): its recipe, and the tests of its runner
    Rule(
        "make test-under-load",
        (
            Elsewhere("Makefile", ("test-under-load: $(STAMP)", "bench/suite_under_load.py")),
            Elsewhere(
                "tests/integration/bench/test_suite_under_load.py", ("suite_under_load.main",)
            ),
        ),
    ),
    Rule(
        "make controlplane",
        (
            Elsewhere(
                "Makefile", ("test: $(STAMP) controlplane", "bash tests/controlplane/build.sh")
            ),
            Elsewhere(".ci/run", ("make test",)),
        ),
    ),
    # --- containers
    Rule(
        "make docker",
        (
            Elsewhere("Makefile", ("test: $(STAMP) controlplane docker images",)),
            Elsewhere("mk/docker.mk", ("bash scripts/docker/engine.sh",)),
        ),
    ),
    Rule(
        "make images",
        (
            Elsewhere("Makefile", ("test: $(STAMP) controlplane docker images",)),
            Elsewhere("mk/kind.mk", ("bash $(KIND_SCRIPTS)/images.sh",)),
        ),
    ),
    Rule(
        "make test-containers",
        (Elsewhere("mk/docker.mk", ("-m container tests/container",)),),
    ),
    Rule(
        "make compose",
        (
            Elsewhere("Makefile", ("test: $(STAMP) controlplane docker images compose",)),
            Elsewhere("mk/docker.mk", ("bash scripts/docker/compose.sh",)),
        ),
    ),
    Rule(
        "make images compose",
        (Elsewhere("Makefile", ("test: $(STAMP) controlplane docker images compose",)),),
    ),
    # compose.yaml brought up, used and taken down as the README says, in make test
    Rule(
        "export REDIS_IMAGE=creditrisk/redis:dev PROMETHEUS_IMAGE=creditrisk/prometheus:dev",
        (
            Elsewhere(
                "tests/container/test_compose.py",
                (
                    '"REDIS_IMAGE": f"{IMAGE_REPO}/redis:{IMAGE_TAG}"',
                    '"PROMETHEUS_IMAGE": f"{IMAGE_REPO}/prometheus:{IMAGE_TAG}"',
                ),
            ),
        ),
    ),
    Rule(
        "docker compose up -d --wait redis mlflow inference batch-api batch-worker prometheus",
        (
            Elsewhere(
                "tests/container/test_compose.py",
                (
                    'SERVICES = ["redis", "mlflow", "inference", "batch-api", "batch-worker", '
                    '"prometheus"]',
                    '"up", "--detach", "--wait"',
                ),
            ),
        ),
    ),
    Rule(
        "curl -s -H 'Content-Type: application/json' localhost:8080/api/v1/predict "
        """-d '{"student":"No","balance":1500,"income":40000}'""",
        (Elsewhere("tests/container/test_compose.py", ('httpx.post(f"{url}/api/v1/predict"',)),),
    ),
    Rule(
        "docker compose down -v",
        (Elsewhere("tests/container/test_compose.py", ('"down", "--volumes"',)),),
    ),
    # --- the services on this machine, and every API example
    Rule("python -m services.trainer", (Here(LOCAL),)),
    Rule("redis-server --port 6379 --save '' &", (Here(LOCAL),)),
    Rule(
        r"^export (API_KEY=\$\(openssl |INFERENCE_API_KEY_HASHES=|INFERENCE_ADMIN_KEY_HASH="
        r"|BATCH_API_KEY_HASHES=|BATCH_ADMIN_KEY_HASHES=)",
        (Here(LOCAL),),
    ),
    Rule("python -m services.inference --port 8080 &", (Here(LOCAL),)),
    Rule("python -m services.batch api --port 8001 &", (Here(LOCAL),)),
    Rule("python -m services.batch worker &", (Here(LOCAL),)),
    Rule("mlflow ui --backend-store-uri sqlite:///.mlflow/mlflow.db --port 5000 &", (Here(LOCAL),)),
    Rule("python -m services.trainer --help", (Here(LOCAL),)),
    Rule(
        "python -m services.trainer --dataset credit_data --model-name credit-data "
        "--rollout-manifest rollout.yaml",
        (Here(LOCAL),),
    ),
    Rule(r"^curl -s (-X (GET|POST) )?\"?localhost:8080/", (Here(LOCAL),)),
    Rule(r"^(JOB=\$\()?curl -s (-X (GET|POST) )?\"?localhost:8001/", (Here(LOCAL),)),
    Rule("python -m services.batch submit data/default.csv", (Here(LOCAL),)),
    Rule("python -m services.batch status $JOB --wait", (Here(LOCAL),)),
    Rule("redis-cli -u redis://127.0.0.1:6379/0 ping", (Here(LOCAL),)),
    # --- the decision record (needs PostgreSQL: run by its own tests, on a real one)
    Rule(
        'curl -s -H "X-Admin-Key: $ADMIN_KEY" localhost:8080/api/v1/decisions/$REQUEST_ID',
        (
            Elsewhere(
                "tests/integration/inference/test_decisions.py",
                ('client.get("/api/v1/decisions/one-1", headers=ADMIN)',),
            ),
        ),
    ),
    Rule(
        r"^python -m services\.core\.decisions export ",
        (
            Elsewhere(
                "tests/integration/core/test_decisions.py",
                (
                    '"-m", "services.core.decisions", *args',
                    'decisions_cli(postgres.dsn, "export"',
                    '"csv"',
                ),
            ),
        ),
    ),
    # --- Kubernetes
    Rule("make kind-up images kind-load deploy", kind("kind-up", "images", "kind-load", "deploy")),
    Rule("make e2e-kind", kind("e2e-kind")),
    Rule("make kind-down", kind("kind-down")),
    # run for real by hand here (docs/kind-offline.md); stops at once without Docker
    Rule(
        "make test-kind",
        (
            Elsewhere(
                "tests/integration/deploy/test_scripts.py",
                ('"make", "--no-print-directory", "-f", "mk/kind.mk", target', "test-kind"),
            ),
            Elsewhere("scripts/kind/test.sh", ("-m kind", "kind-down.sh")),
        ),
    ),
    Rule("^(export API_KEY=\\$\\()?kubectl ", (Here(KUBE),)),
    Rule("^helm (upgrade|uninstall) ", (Here(KUBE),)),
)


def rules_for(command: Command) -> list[Rule]:
    return [rule for rule in RULES if rule.covers(command)]


def run_here(test: str, commands: list[Command]) -> list[Command]:
    """The README commands, in order, that ``test`` of this package must execute."""
    return [c for c in commands if any(Here(test) in r.where for r in rules_for(c))]
