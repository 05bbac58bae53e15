#!/usr/bin/env bash
# make test-kind: the kind scenarios (pytest marker `kind`, tests/kind/) from zero:
#   kind-up, images, kind-load, deploy (helm install, first champion, helm test), then
#   pytest -m kind, then kind-down (KEEP_CLUSTER=1 keeps the cluster for a rerun or a look).
# Fails, never skips, when a step cannot run. Step times go to .cache/kind/test-times.tsv,
# each scenario's time to .cache/kind/pytest.xml (JUnit) and a watch of the ModelRollouts
# to .cache/kind/mro-watch.json (bench/kind/bench_kind.py reads all three).
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
watch_pid=""
down() {
  local code=$?
  if [[ -n "$watch_pid" ]]; then kill "$watch_pid" 2>/dev/null || true; fi
  # objects, events and every pod's log before the cluster goes (.cache/kind-logs)
  if (( code != 0 )); then bash "$REPO_ROOT/scripts/kind/dump-logs.sh" >/dev/null 2>&1 || true; fi
  if [[ "${KEEP_CLUSTER:-0}" != 1 ]]; then timed kind-down bash "$REPO_ROOT/scripts/kind/kind-down.sh" || true; fi
  exit "$code"
}
trap down EXIT
timed kind-up bash "$REPO_ROOT/scripts/kind/kind-up.sh"
timed images bash "$REPO_ROOT/scripts/kind/images.sh"
timed kind-load bash "$REPO_ROOT/scripts/kind/kind-load.sh"
# helm test runs once, as the first scenario (tests/kind/test_deploy.py), not in deploy too
DEPLOY_HELM_TEST=0 timed deploy bash "$REPO_ROOT/scripts/kind/deploy.sh"
read -r -a pytest_args <<<"${PYTEST_ARGS:-}"  # e.g. PYTEST_ARGS="-x -k hpa"
kubectl --context "$KUBE_CONTEXT" -n "$NAMESPACE" get modelrollouts -w -o json \
  --output-watch-events >"$REPO_ROOT/.cache/kind/mro-watch.json" 2>/dev/null &
watch_pid=$!
timed pytest "${PYTHON:-python3}" -m pytest -p no:cacheprovider -q -m kind -rA --durations=0 \
  --junitxml="$REPO_ROOT/.cache/kind/pytest.xml" "$REPO_ROOT/tests/kind" "${pytest_args[@]}"
