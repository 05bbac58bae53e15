#!/usr/bin/env bash
# Puts Dask (the batch benchmark's peer) into its own virtualenv, never the platform's
# environment: dask[dataframe] pinned, plus exactly the xgboost, pandas, pyarrow and numpy
# that requirements/dev.lock pins, so both sides score with the same libraries. Cached:
# a stamp holding the pins skips the install when nothing changed.
# usage: scripts/bench/dask-venv.sh [VENV_DIR]   (default: .cache/peers/dask)   -> prints its python
set -euo pipefail
dask_version="2026.8.0"
root="$(cd "$(dirname "$0")/../.." && pwd -P)"
venv="${1:-$root/.cache/peers/dask}"
pins="dask[dataframe]==$dask_version"
for pkg in xgboost pandas pyarrow numpy; do
  pin="$(grep -oE "^$pkg==[^ ]+" "$root/requirements/dev.lock")"
  pins="$pins $pin"
done
stamp="$venv/.pins"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$pins" ]; then
  echo "$venv/bin/python"; exit 0
fi
python3 -m venv "$venv"
# shellcheck disable=SC2086  # the pins are separate words on purpose
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check $pins >&2
"$venv/bin/python" -c "import dask, xgboost; print('dask', dask.__version__, 'xgboost', xgboost.__version__)" >&2
printf '%s' "$pins" > "$stamp"
echo "$venv/bin/python"
