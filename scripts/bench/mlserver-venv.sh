#!/usr/bin/env bash
# MLServer (the peer the inference benchmark measures beside us) in its OWN venv under
# .cache/peers/mlserver, never in the project env: its dependencies must not change ours.
# Idempotent: a stamp holding the pins skips the work when nothing changed.
# xgboost is pinned to the version the project env has, so both serve the same booster
# with the same library.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
MLSERVER_VERSION="${MLSERVER_VERSION:-1.7.1}"
VENV=.cache/peers/mlserver
XGB="$("$PYTHON" -c 'import xgboost; print(xgboost.__version__)')"
PINS=("mlserver==$MLSERVER_VERSION" "mlserver-xgboost==$MLSERVER_VERSION" "xgboost==$XGB")
STAMP="$VENV/.pins"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "${PINS[*]}" ] && [ -x "$VENV/bin/mlserver" ]; then
  exit 0
fi
rm -rf "$VENV"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
"$VENV/bin/python" -c 'import mlserver, mlserver_xgboost, xgboost; print("mlserver", mlserver.__version__, "xgboost", xgboost.__version__)'
echo "${PINS[*]}" > "$STAMP"
