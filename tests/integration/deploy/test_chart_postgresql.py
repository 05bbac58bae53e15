"""The chart's bundled PostgreSQL (the decision record's database).

Rendered: the StatefulSet, its Secret and NetworkPolicy, and the DSN wiring of the writers
(inference, batch workers). Run for real: the container's own start script and arguments,
on the Debian PostgreSQL server binaries as the ``postgres`` user, then used the way the
services use it — the DSN the kubelet would build from the Secret — and probed as an
attacker would (the superuser over the network, a wrong password, another database)."""

from __future__ import annotations

import base64
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from services.core.decisions.record import (
    Decision,
    InputsMode,
    ModelIdentity,
    online_decision_id,
    to_row,
)
from services.core.decisions.store import DecisionStore
from tests.integration.deploy.chart import CI_VALUES, by_kind, helm, render, template_text
from tests.support.postgres import pg_bin
from tests.support.processes import free_port, stop, wait_for_port
from tests.support.waits import wait_for

pytestmark = pytest.mark.integration

BUNDLED = CI_VALUES / "decision-record-values.yaml"
PREFIX = "cr-creditrisk"
Manifest = dict[str, Any]


def _named(docs: tuple[Manifest, ...] | list[Manifest], kind: str, name: str) -> Manifest:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def _env(container: Manifest) -> dict[str, Manifest]:
    return {e["name"]: e for e in container.get("env") or []}


def _containers(docs: tuple[Manifest, ...], deployment: str) -> Manifest:
    d = _named(docs, "Deployment", f"{PREFIX}-{deployment}")
    return dict(d["spec"]["template"]["spec"]["containers"][0])


# ------------------------------------------------------------------ rendered


def test_the_writers_get_a_dsn_built_from_the_secret_never_a_password() -> None:
    text = template_text(BUNDLED)  # one render: the generated password is random
    docs = tuple(d for d in yaml.safe_load_all(text) if d)
    for deployment in ("inference", "batch-worker"):
        env = _env(_containers(docs, deployment))
        ref = env["DECISIONS_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"{PREFIX}-postgresql", "key": "app-password"}
        assert env["DECISIONS_DSN"]["value"] == (
            f"postgresql://decisions:$(DECISIONS_DB_PASSWORD)@{PREFIX}-postgresql:5432/decisions"
        )
        salt = env["DECISIONS_HASH_SALT"]["valueFrom"]["secretKeyRef"]
        assert salt == {"name": f"{PREFIX}-postgresql", "key": "hash-salt"}
    for deployment in ("batch-api", "controller", "mlflow"):
        assert "DECISIONS_DSN" not in _env(_containers(docs, deployment))
    secret = _named(docs, "Secret", f"{PREFIX}-postgresql")
    password = base64.b64decode(secret["data"]["app-password"]).decode()
    assert re.fullmatch(r"[A-Za-z0-9]{40}", password)
    assert text.count(secret["data"]["app-password"]) == 1  # only in the Secret
    assert password not in text


def test_the_batch_workers_get_the_batch_layout_of_the_record() -> None:
    """``decisions.batchLayout`` (default ``chunk``) reaches the batch workers only."""
    for extra, layout in (((), "chunk"), (("--set", "decisions.batchLayout=row"), "row")):
        docs = tuple(d for d in yaml.safe_load_all(template_text(BUNDLED, extra=extra)) if d)
        worker = _env(_containers(docs, "batch-worker"))
        assert worker["DECISIONS_BATCH_LAYOUT"]["value"] == layout
        assert "DECISIONS_BATCH_LAYOUT" not in _env(_containers(docs, "inference"))
    refused = helm(
        "template", "cr", str(CI_VALUES.parent), "-f", str(BUNDLED),
        "--set", "decisions.batchLayout=rows", check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "batchLayout" in refused.stderr
    off = _containers(render(), "batch-worker")
    assert "DECISIONS_BATCH_LAYOUT" not in _env(off)  # the record off: nothing to set


def test_only_the_writers_may_reach_it_and_it_reaches_nothing() -> None:
    docs = render(BUNDLED)
    ingress = _named(docs, "NetworkPolicy", f"{PREFIX}-postgresql")["spec"]["ingress"]
    (rule,) = ingress
    assert rule["ports"] == [{"port": 5432, "protocol": "TCP"}]
    (peer,) = rule["from"]
    (expr,) = peer["podSelector"]["matchExpressions"]
    assert expr["values"] == ["inference", "batch-worker"]
    assert _named(docs, "NetworkPolicy", f"{PREFIX}-postgresql-egress")["spec"]["egress"] == []
    for writer in ("inference", "batch-worker"):
        egress = _named(docs, "NetworkPolicy", f"{PREFIX}-{writer}-egress")["spec"]["egress"]
        to_pg = [r for r in egress if r["ports"] == [{"port": 5432, "protocol": "TCP"}]]
        (only,) = to_pg
        component = only["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        assert component == "postgresql"


def test_data_on_a_claim_that_outlives_the_release() -> None:
    (sts,) = by_kind(render(BUNDLED), "StatefulSet")
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Retain"
    pod = sts["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 999
    assert pod["automountServiceAccountToken"] is False


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["decisions.enabled=true"], "decisions.enabled needs a database"),
        (
            ["decisions.enabled=true", "postgresql.enabled=true", "decisions.existingSecret=db"],
            "choose one",
        ),
    ],
    ids=["no-database", "both"],
)
def test_a_decision_record_without_exactly_one_database_is_refused(
    sets: list[str], message: str
) -> None:
    args = [a for s in sets for a in ("--set", s)]
    proc = helm("template", "cr", str(BUNDLED.parents[1]), *args, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


# ------------------------------------------------------------------ run for real


class ChartPostgres:
    """The rendered container's script and arguments, run on the local server binaries."""

    def __init__(self, port: int) -> None:
        text = template_text(BUNDLED, extra=("--set", f"postgresql.service.port={port}"))
        docs = [d for d in yaml.safe_load_all(text) if d]
        self.port = port
        secret = _named(docs, "Secret", f"{PREFIX}-postgresql")
        self.secret = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
        (sts,) = [d for d in docs if d["kind"] == "StatefulSet"]
        self.container = sts["spec"]["template"]["spec"]["containers"][0]
        self.writer_env = _env(_containers(tuple(docs), "inference"))
        self.user = pwd.getpwnam("postgres")
        self.root = Path(tempfile.mkdtemp(prefix="chart-pg-"))  # not pytest's root-only tree
        os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, password: str) -> None:
        c = self.container
        argv = [a.replace("/tmp", str(self.root)) for a in [*c["command"], *c["args"]]]
        argv = [a.replace("listen_addresses=*", "listen_addresses=127.0.0.1") for a in argv]
        env = {e["name"]: e["value"] for e in c["env"] if "value" in e}
        env["PGDATA"] = str(self.root / "pgdata")
        env["POSTGRES_APP_PASSWORD"] = password  # what the kubelet reads from the Secret
        env["PATH"] = f"{Path(pg_bin('postgres')).parent}:/usr/bin:/bin"
        env["HOME"] = str(self.root)
        log = open(self.root / "postgres.log", "ab")  # noqa: SIM115 - closed by the process
        self.proc = subprocess.Popen(
            argv,
            env=env,
            user=self.user.pw_uid,
            group=self.user.pw_gid,
            extra_groups=[],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            # the port opens while PostgreSQL still refuses sessions ("the database system
            # is starting up"): ready is a session the services could open
            wait_for_port(self.port, timeout=60)
            wait_for(
                "PostgreSQL accepting sessions",
                lambda: self._session(password),
                timeout=60,
                ignore=(psycopg.OperationalError,),
            )
        except AssertionError as exc:
            text = (self.root / "postgres.log").read_text(errors="replace")
            raise AssertionError(f"{exc}\n{text}") from None
        except Exception:
            raise AssertionError((self.root / "postgres.log").read_text(errors="replace")) from None

    def _session(self, password: str) -> bool:
        with psycopg.connect(self.dsn(password), connect_timeout=3):
            return True

    def stop(self) -> None:
        """A fast shutdown (SIGINT), as a pod's would be with clients still connected."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            finally:
                stop(self.proc)
            self.proc = None

    def dsn(self, password: str | None = None) -> str:
        """The writers' DECISIONS_DSN as the kubelet expands it, the Service name pointed
        at the local server."""
        value = self.writer_env["DECISIONS_DSN"]["value"]
        value = value.replace("$(DECISIONS_DB_PASSWORD)", password or self.secret["app-password"])
        return value.replace(f"@{PREFIX}-postgresql:", "@127.0.0.1:")


@pytest.fixture(scope="module")
def chart_pg() -> Iterator[ChartPostgres]:
    server = ChartPostgres(free_port())
    server.start(server.secret["app-password"])
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


def _decision(request_id: str) -> Decision:
    now = datetime.now(UTC)
    return Decision(
        decision_id=online_decision_id(request_id, 0),
        decided_at=now,
        day=now.date(),
        model=ModelIdentity("credit-default", "7", "stable"),
        inputs={"balance": 1500.0, "student": "No"},
        probability=0.61,
        prediction=1,
        risk_band="high",
        threshold=0.5,
        caller="abcdef012345",
        request_id=request_id,
        item=0,
    )


def test_the_services_record_and_look_up_decisions_with_the_rendered_dsn(
    chart_pg: ChartPostgres,
) -> None:
    store = DecisionStore(chart_pg.dsn())
    try:
        store.ensure_schema()
        assert store.insert([to_row(_decision("chart-pg-1"), InputsMode.VALUES)]) == 1
        (found,) = store.find("chart-pg-1")
        assert found["model_version"] == "7"
        assert found["probability"] == pytest.approx(0.61)
    finally:
        store.close()


def test_the_service_role_is_no_superuser_and_owns_only_its_database(
    chart_pg: ChartPostgres,
) -> None:
    with psycopg.connect(chart_pg.dsn(), connect_timeout=3) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert row == (False, False, False)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE intruder LOGIN")


@pytest.mark.parametrize(
    "dsn",
    [
        "postgresql://postgres@127.0.0.1:{port}/decisions",  # the superuser, no password
        "postgresql://postgres:x@127.0.0.1:{port}/postgres",
        "postgresql://decisions:wrong@127.0.0.1:{port}/decisions",
        "postgresql://decisions:{password}@127.0.0.1:{port}/postgres",  # another database
    ],
    ids=["superuser", "superuser-password", "wrong-password", "other-database"],
)
def test_the_network_door_is_shut(chart_pg: ChartPostgres, dsn: str) -> None:
    url = dsn.format(port=chart_pg.port, password=chart_pg.secret["app-password"])
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=3).close()


def test_a_rotated_password_takes_effect_at_restart_and_keeps_the_data(
    chart_pg: ChartPostgres,
) -> None:
    store = DecisionStore(chart_pg.dsn())
    store.ensure_schema()
    store.insert([to_row(_decision("before-rotation"), InputsMode.VALUES)])
    store.close()
    old, new = chart_pg.secret["app-password"], "Rotated" + "x" * 33
    chart_pg.stop()
    chart_pg.start(new)
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(chart_pg.dsn(old), connect_timeout=3).close()
        store = DecisionStore(chart_pg.dsn(new))
        assert [r["request_id"] for r in store.find("before-rotation")] == ["before-rotation"]
        store.close()
    finally:  # leave the module's server as the other tests expect it
        chart_pg.stop()
        chart_pg.start(old)
