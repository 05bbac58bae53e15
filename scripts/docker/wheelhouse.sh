#!/usr/bin/env bash
# Fills .cache/wheelhouse with the wheels of every image (pyproject's `all` extra, xgboost as
# xgboost-cpu), downloaded on the host. The image builds install from it with
# `pip install --no-index`: no network and no CA bundle inside a build, the same versions
# in every image, and a layer cache that holds until pyproject.toml changes.
# Versions are constrained to what is installed on the host (the set the tests run with),
# so an image predicts with the very versions the in-process tests use.
# Skipped while the wheelhouse is newer than pyproject.toml (WHEELHOUSE_REFRESH=1 forces it).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$REPO_ROOT/.cache/wheelhouse"
PYTHON="${PYTHON:-python3}"
stamp="$OUT/.complete"
if [ "${WHEELHOUSE_REFRESH:-0}" != 1 ] && [ -f "$stamp" ] && [ "$stamp" -nt "$REPO_ROOT/pyproject.toml" ]; then
  exit 0
fi
mkdir -p "$OUT"
rm -f "$stamp"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$PYTHON" "$REPO_ROOT/deploy/docker/requirements.py" "$REPO_ROOT/pyproject.toml" all >"$work/requirements.txt"
# the host's installed versions, minus editable installs and direct references
"$PYTHON" -m pip list --format=freeze --exclude-editable 2>/dev/null | grep -E '^[A-Za-z0-9._-]+==' \
  | grep -viE '^(xgboost|pip|setuptools|wheel)==' >"$work/constraints.txt" || true
arch="$(uname -m)"
echo "[wheelhouse] pip download into $OUT" >&2
# pip evaluates `python_full_version` markers with the host's interpreter, not with
# --python-version: wheels only an older 3.11 needs (Debian bookworm's 3.11.2, the base
# built here) are named explicitly
echo 'async-timeout>=4.0.3' >>"$work/requirements.txt"
"$PYTHON" -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
  --python-version 3.11 --implementation cp --platform "manylinux2014_$arch" \
  --platform "manylinux_2_28_$arch" --platform "manylinux_2_17_$arch" --platform "linux_$arch" \
  --dest "$OUT" -r "$work/requirements.txt" -c "$work/constraints.txt"
touch "$stamp"
du -sh "$OUT" >&2
