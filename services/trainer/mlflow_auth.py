"""Identities of MLflow's basic-auth app, made before the server starts.

usage: python -m services.trainer.mlflow_auth --backend-store-uri URI [--model NAME]...
       [--experiment NAME]...

The chart's MLflow container runs this, then ``exec mlflow server --app-name basic-auth``.
It reads the auth config MLflow reads (``MLFLOW_AUTH_CONFIG_PATH``: ``database_uri``,
``admin_username``) and the passwords from the environment (from a Secret; never argv):
``MLFLOW_AUTH_ADMIN_PASSWORD``, ``MLFLOW_AUTH_READER_USERNAME`` /
``MLFLOW_AUTH_READER_PASSWORD``, ``MLFLOW_AUTH_WRITER_USERNAME`` /
``MLFLOW_AUTH_WRITER_PASSWORD``. With ``default_permission = READ`` in that config:

- the admin (``is_admin``) and the two identities exist, each with the Secret's password
  (set on every start, so rotating the Secret and restarting the pod rotates them; the
  reader and writer are never admins);
- each ``--model`` exists in the registry and the writer has MANAGE on it: created here
  when missing, so no other identity can register the name first and own it (MLflow lets
  any authenticated user create a registered model and makes its creator its manager);
- the writer has MANAGE on each ``--experiment`` that already exists (one made before
  authentication was on); an experiment it creates later is its own.

The reader keeps the default READ: it reads versions and artifacts, and may neither move
an alias nor create a version. Done on MLflow's own stores (the auth store and the
tracking store), not over HTTP, so every identity exists before the first request is
served and the admin password never travels. Idempotent.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

from loguru import logger

MANAGE = "MANAGE"


@dataclass(frozen=True)
class Identity:
    username: str
    password: str
    is_admin: bool = False


def _env(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"{name} is not set (the MLflow auth Secret)")
    return value


def identities(admin_username: str) -> list[Identity]:
    """The admin, the reader and the writer, from the environment."""
    found = [
        Identity(admin_username, _env("MLFLOW_AUTH_ADMIN_PASSWORD"), is_admin=True),
        Identity(_env("MLFLOW_AUTH_READER_USERNAME"), _env("MLFLOW_AUTH_READER_PASSWORD")),
        Identity(_env("MLFLOW_AUTH_WRITER_USERNAME"), _env("MLFLOW_AUTH_WRITER_PASSWORD")),
    ]
    if len({i.username for i in found}) != len(found):
        raise SystemExit("the admin, reader and writer need three different usernames")
    return found


def bootstrap(backend_store_uri: str, models: list[str], experiments: list[str]) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth.config import read_auth_config
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    config = read_auth_config()
    if config.default_permission != "READ":
        raise SystemExit(f"default_permission must be READ, not {config.default_permission}")
    store = SqlAlchemyStore()
    store.init_db(config.database_uri)
    people = identities(config.admin_username or "admin")
    for who in people:
        if store.has_user(who.username):
            store.update_user(who.username, password=who.password, is_admin=who.is_admin)
        else:
            store.create_user(who.username, who.password, is_admin=who.is_admin)
        logger.info("mlflow identity {} ready (admin: {})", who.username, who.is_admin)
    writer = people[2].username

    tracking = MlflowClient(tracking_uri=backend_store_uri, registry_uri=backend_store_uri)
    for name in models:
        try:
            tracking.get_registered_model(name)
        except MlflowException:
            tracking.create_registered_model(name)
            logger.info("registered model {} created for the writer", name)
        _grant(store, "registered_model", name, writer)
    for name in experiments:
        experiment = tracking.get_experiment_by_name(name)
        if experiment is not None:
            _grant(store, "experiment", experiment.experiment_id, writer)


def _grant(store: object, kind: str, key: str, username: str) -> None:
    """MANAGE on a registered model (by name) or experiment (by id) for ``username``."""
    from mlflow.exceptions import MlflowException

    try:
        getattr(store, f"create_{kind}_permission")(key, username, MANAGE)
    except MlflowException:  # exists: make sure it is MANAGE
        getattr(store, f"update_{kind}_permission")(key, username, MANAGE)
    logger.info("{} has MANAGE on {} {}", username, kind.replace("_", " "), key)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend-store-uri", required=True)
    parser.add_argument("--model", action="append", default=[])
    parser.add_argument("--experiment", action="append", default=[])
    args = parser.parse_args(argv)
    bootstrap(args.backend_store_uri, args.model, args.experiment)
    return 0


if __name__ == "__main__":
    sys.exit(main())
