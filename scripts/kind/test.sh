#!/usr/bin/env bash
# make test-kind: the kind scenarios (pytest marker `kind`, tests/kind/) from zero:
#   kind-up, images, kind-load, deploy (helm install, first champion, helm test), then
#   pytest -m kind, then kind-down (KEEP_CLUSTER=1 keeps the cluster for a rerun or a look).
# Fails, never skips, when a step cannot run. Step times go to .cache/kind/test-times.tsv.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_docker
times="$REPO_ROOT/.cache/kind/test-times.tsv"
mkdir -p "$(dirname "$times")"
: >"$times"
timed() {
  local step="$1" start
  shift
  start=$EPOCHREALTIME
  "$@"
  awk -v step="$step" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%s\t%.1f\n", step, b - a }' | tee -a "$times" >&2
}
down() {
  local code=$?
  if [[ "${KEEP_CLUSTER:-0}" != 1 ]]; then timed kind-down bash "$REPO_ROOT/scripts/kind/kind-down.sh" || true; fi
  exit "$code"
}
trap down EXIT
timed kind-up bash "$REPO_ROOT/scripts/kind/kind-up.sh"
timed images bash "$REPO_ROOT/scripts/kind/images.sh"
timed kind-load bash "$REPO_ROOT/scripts/kind/kind-load.sh"
timed deploy bash "$REPO_ROOT/scripts/kind/deploy.sh"
read -r -a pytest_args <<<"${PYTEST_ARGS:-}"  # e.g. PYTEST_ARGS="-x -k hpa"
timed pytest "${PYTHON:-python3}" -m pytest -p no:cacheprovider -q -m kind "$REPO_ROOT/tests/kind" "${pytest_args[@]}"
