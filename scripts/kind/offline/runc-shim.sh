#!/usr/bin/env bash
# OCI runtime shim for hosts whose capability bounding set lacks CAP_SYS_RESOURCE (some
# VMs/sandboxes): there `docker run --privileged` (and so every kind node) fails with
# "unable to apply caps: operation not permitted", because runc asks for every capability.
# This shim removes CAP_SYS_RESOURCE from the process capabilities in the bundle's
# config.json (create/run) and in the --process file (exec), then runs the real runc with
# the same arguments. Containers that never ask for CAP_SYS_RESOURCE (Docker's default set)
# are passed through untouched. Registered by scripts/kind/offline/runtime.sh only where
# the host needs it.
#
# Environment: RUNC_SHIM_REAL (default /usr/sbin/runc, else runc on PATH).
set -euo pipefail

real="${RUNC_SHIM_REAL:-/usr/sbin/runc}"
[[ -x "$real" ]] || real="$(command -v runc)"
cap=CAP_SYS_RESOURCE
# shellcheck disable=SC2016  # $cap is a jq variable
jq_filter='
  def strip: if type == "array" then map(select(. != $cap)) else . end;
  if .capabilities then .capabilities |= with_entries(.value |= strip) else . end'

# strip_caps FILE KEY: KEY is "process" (bundle config.json) or "." (exec process file)
strip_caps() {
  local file="$1" path="$2" tmp
  [[ -f "$file" ]] || return 0
  grep -q "$cap" "$file" || return 0
  tmp="$file.shim.$$"
  if [[ "$path" == process ]]; then
    jq --arg cap "$cap" ".process |= ($jq_filter)" "$file" >"$tmp"
  else
    jq --arg cap "$cap" "$jq_filter" "$file" >"$tmp"
  fi
  chmod --reference="$file" "$tmp" 2>/dev/null || true
  mv -f "$tmp" "$file"
}

# find the subcommand (first argument that is not a global option or its value)
args=("$@")
cmd="" i=0
while (( i < ${#args[@]} )); do
  a="${args[i]}"
  case "$a" in
    --root|--log|--log-format|--criu|--rootless) i=$((i + 2)); continue ;;
    -*) i=$((i + 1)); continue ;;
    *) cmd="$a"; break ;;
  esac
done

case "$cmd" in
  create|run)
    bundle="$PWD"
    for (( j = i + 1; j < ${#args[@]}; j++ )); do
      case "${args[j]}" in
        --bundle|-b) bundle="${args[j + 1]}" ;;
        --bundle=*|-b=*) bundle="${args[j]#*=}" ;;
      esac
    done
    strip_caps "$bundle/config.json" process
    ;;
  exec)
    for (( j = i + 1; j < ${#args[@]}; j++ )); do
      case "${args[j]}" in
        --process|-p) strip_caps "${args[j + 1]}" . ;;
        --process=*|-p=*) strip_caps "${args[j]#*=}" . ;;
      esac
    done
    ;;
esac
exec "$real" "$@"
