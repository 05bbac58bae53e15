"""``python -m controller``: run the ModelRollout operator (kopf) with CONTROLLER_* settings."""

from __future__ import annotations

import argparse
import sys

import kopf

from controller.handlers import register
from controller.runtime import build_runtime
from controller.settings import ControllerSettings
from services.core.logs import configure_logging


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m controller",
        description="Run the ModelRollout operator: canary analysis, promotion and rollback of "
        "model versions (settings from CONTROLLER_* environment variables).",
    )
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=None,
        help="namespace to watch (repeatable; default: CONTROLLER_NAMESPACES)",
    )
    parser.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="watch every namespace (needs the cluster-wide RBAC)",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, ~/.kube)")
    parser.add_argument("--tick", type=float, help="seconds between reconciles of a rollout")
    parser.add_argument("--verbose", action="store_true", help="debug logging")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> ControllerSettings:
    overrides: dict[str, object] = {}
    if args.namespace:
        overrides["namespaces"] = args.namespace
    if args.all_namespaces:
        overrides["namespaces"] = []
    if args.kubeconfig:
        overrides["kubeconfig"] = args.kubeconfig
    if args.tick:
        overrides["tick_seconds"] = args.tick
    return ControllerSettings(**overrides)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    settings = settings_from(args)
    configure_logging(
        "DEBUG" if args.verbose else settings.log_level, settings.log_json, "controller"
    )
    registry = register(kopf.OperatorRegistry(), settings)
    liveness = (
        f"http://0.0.0.0:{settings.liveness_port}/healthz" if settings.liveness_port else None
    )
    kopf.run(
        registry=registry,
        memo=kopf.Memo(runtime=build_runtime(settings)),
        standalone=True,
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        liveness_endpoint=liveness,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
