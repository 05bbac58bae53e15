#!/usr/bin/env bash
# Fills the wheelhouse the image builds install from, on the host:
#
#   .cache/wheelhouse/pool/          every wheel of every image (pyproject's `all` extra,
#                                    xgboost as xgboost-cpu), from `pip download`
#   .cache/wheelhouse/<extra>/       one image's wheels (hard links into the pool) and its
#                                    requirements.txt (deploy/docker/requirements.py)
#
# An image's builder stage copies only its own folder (COPY .cache/wheelhouse/${EXTRA}/),
# so a pyproject.toml edit that leaves a service's dependencies alone leaves its folder
# byte for byte the same, and Docker's layer cache holds for that image. No network and no
# CA bundle inside a build; the same versions in every image.
# Versions are constrained to what is installed on the host (the set the tests run with),
# so an image predicts with the very versions the in-process tests use (`make install`
# installs them from the hashed lock, requirements/dev.lock).
# Each step runs only when its inputs changed (WHEELHOUSE_REFRESH=1 forces the download).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$REPO_ROOT/.cache/wheelhouse"
POOL="$OUT/pool"
PYTHON="${PYTHON:-python3}"
EXTRAS="${WHEELHOUSE_EXTRAS:-inference batch trainer controller}"
log() { printf '[wheelhouse] %s\n' "$*" >&2; }

mkdir -p "$POOL"
# the single-folder layout of earlier versions: its wheels become the pool
find "$OUT" -maxdepth 1 -name '*.whl' -exec mv -t "$POOL" {} + 2>/dev/null || true
rm -f "$OUT/.complete"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
requirements() { "$PYTHON" "$REPO_ROOT/deploy/docker/requirements.py" "$REPO_ROOT/pyproject.toml" "$1"; }
# pip evaluates `python_full_version` markers with the host's interpreter, not with
# --python-version: wheels only an older 3.11 needs (Debian bookworm's 3.11.2, the base
# built here) are named explicitly
{ requirements all; echo 'async-timeout>=4.0.3'; } >"$work/all.txt"
# the host's installed versions, minus editable installs and direct references
"$PYTHON" -m pip list --format=freeze --exclude-editable 2>/dev/null | grep -E '^[A-Za-z0-9._-]+==' \
  | grep -viE '^(xgboost|pip|setuptools|wheel)==' | sort >"$work/constraints.txt" || true
arch="$(uname -m)"
platform=(--only-binary=:all: --python-version 3.11 --implementation cp
  --platform "manylinux2014_$arch" --platform "manylinux_2_28_$arch"
  --platform "manylinux_2_17_$arch" --platform "linux_$arch")

# 1. the pool: downloaded again only when the requirements or the host's versions changed
key="$(cat "$work/all.txt" "$work/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [ "${WHEELHOUSE_REFRESH:-0}" = 1 ] || [ "$(cat "$OUT/.pool-key" 2>/dev/null)" != "$key" ]; then
  log "pip download into $POOL"
  "$PYTHON" -m pip download --quiet --disable-pip-version-check "${platform[@]}" \
    --dest "$POOL" -r "$work/all.txt" -c "$work/constraints.txt"
  echo "$key" >"$OUT/.pool-key"
fi

# 2. one folder per image: the wheels its requirements resolve to, offline from the pool
pool_list="$(find "$POOL" -name "*.whl" -printf "%f\n" | sort | sha256sum | cut -d' ' -f1)"
for extra in $EXTRAS; do
  requirements "$extra" >"$work/$extra.txt"
  cp "$work/$extra.txt" "$work/$extra-download.txt"
  # redis needs it below Python 3.11.3 (see above); pip in the build resolves the marker
  grep -q '^redis' "$work/$extra.txt" && echo 'async-timeout>=4.0.3' >>"$work/$extra-download.txt"
  key="$(sha256sum <"$work/$extra-download.txt" | cut -d' ' -f1)-$pool_list"
  [ "$(cat "$OUT/.$extra-key" 2>/dev/null)" = "$key" ] && [ -d "$OUT/$extra" ] && continue
  log "resolving $extra from the pool"
  "$PYTHON" -m pip download --quiet --disable-pip-version-check "${platform[@]}" \
    --no-index --find-links "$POOL" --dest "$work/$extra" -r "$work/$extra-download.txt" -c "$work/constraints.txt"
  rm -rf "${OUT:?}/$extra"
  mkdir -p "$OUT/$extra"
  for wheel in "$work/$extra"/*.whl; do
    ln "$POOL/$(basename "$wheel")" "$OUT/$extra/"  # a hard link: no second copy on disk
  done
  cp "$work/$extra.txt" "$OUT/$extra/requirements.txt"
  echo "$key" >"$OUT/.$extra-key"
done
du -sh "$POOL" >&2
