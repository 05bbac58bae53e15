"""``python -m services.inference``: serve the model at ``MODEL_URI`` with uvicorn.

Every setting can be given as a flag (``--bulk-max-rows 500``) or in the environment
(``INFERENCE_BULK_MAX_ROWS=500``; ``MODEL_URI``, ``TRACK`` and ``REDIS_URL`` also without
prefix); flags win. One worker per process: scale with replicas (the metrics registry and
the drift window are per process). Server options: ``services.core.web.serving``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, get_origin

import uvicorn

from services.core.logs import configure_logging, intercept_stdlib_logging
from services.core.web.serving import server_options
from services.inference.settings import InferenceSettings


def _flag_type(annotation: Any) -> dict[str, Any]:
    if annotation is bool:
        return {"type": lambda text: text.strip().lower() in {"1", "true", "yes", "on"}}
    if get_origin(annotation) is list:
        return {"nargs": "*"}
    return {}


def parse_args(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m services.inference",
        description="Serve a credit-default model over HTTP (FastAPI + uvicorn). Flags "
        "override INFERENCE_* environment variables; see docs/inference.md.",
    )
    for name, info in InferenceSettings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        env = f"INFERENCE_{name.upper()}"
        parser.add_argument(
            flag,
            dest=name,
            default=None,
            help=f"{info.description} [env {env}]",
            **_flag_type(info.annotation),
        )
    args = vars(parser.parse_args(argv))
    return {key: value for key, value in args.items() if value is not None}


def main(argv: list[str] | None = None) -> int:
    settings = InferenceSettings(**parse_args(argv))
    configure_logging(settings.log_level, settings.log_json, service="inference")
    intercept_stdlib_logging("uvicorn", "uvicorn.error", "uvicorn.access")
    from services.inference.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        workers=1,
        **server_options(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
