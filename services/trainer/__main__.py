"""``python -m services.trainer``: train, register and gate a credit-default model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.core.logs import configure_logging, logger, route_mlflow_prints
from services.core.validation import DataValidationError
from services.trainer.rollout_manifest import write_manifest
from services.trainer.settings import TrainerSettings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = TrainerSettings()
    parser = argparse.ArgumentParser(
        prog="python -m services.trainer",
        description="Train an XGBoost credit-default model, track it in MLflow, register a "
        "version with its contract and apply the quality gate. Prints one JSON summary line. "
        "Every flag can also be set as TRAINER_<FLAG> in the environment.",
    )
    for name, info in TrainerSettings.model_fields.items():
        if name == "environment":
            continue
        flag = "--" + name.replace("_", "-")
        parser.add_argument(flag, default=getattr(defaults, name), help=info.description)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = TrainerSettings(**{k: v for k, v in vars(args).items() if v is not None})
    configure_logging(settings.log_level, settings.log_json, service="trainer")
    from services.trainer.pipeline import train

    route_mlflow_prints()  # MLflow is imported now: its eprint() lines become log lines

    try:
        summary = train(settings)
    except (DataValidationError, FileNotFoundError) as exc:
        logger.error("cannot train: {}", exc)
        return 2
    if settings.rollout_manifest:
        write_manifest(Path(settings.rollout_manifest), summary.model_name, summary.version)
    print(json.dumps(summary.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
