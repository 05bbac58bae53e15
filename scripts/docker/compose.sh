#!/usr/bin/env bash
# Docker Compose v2, built from its Go module where no binary can be downloaded, and kept
# in the repository's cache like the control plane (.cache/k8s):
#
#   bash scripts/docker/compose.sh      # -> .cache/compose/bin/docker-compose (+ CLI plugin)
#
# `go install` refuses the module (replace directives), so: `go mod download -json` it, then
# `go build -mod=mod ./cmd` inside a copy. About 25 min cold on 2 cores; a warm Go build
# cache makes it a minute or two; with the binary in the cache (its stamp: version + Go
# version) nothing is built at all. Build times go to .cache/compose/build_times.json.
# The binary is also installed as the `docker compose` CLI plugin when no Compose answers
# (a user's own Compose is left alone). The compose test (tests/container/test_compose.py)
# runs the cached binary.
#
# Environment: COMPOSE_VERSION (default v2.40.3), COMPOSE_CACHE (default .cache/compose),
# FORCE=1 rebuilds, NICE (niceness of go build, default 10).
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VERSION="${COMPOSE_VERSION:-v2.40.3}"
CACHE="${COMPOSE_CACHE:-$REPO_ROOT/.cache/compose}"
BIN="$CACHE/bin/docker-compose"
PLUGIN_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
log() { printf '[compose] %s\n' "$*" >&2; }

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO="$(command -v go)"; else GO=/usr/local/go/bin/go; fi
fi
stamp="compose@$VERSION $("$GO" version 2>/dev/null | awk '{print $3}')"
mkdir -p "$CACHE/bin"
if [ "${FORCE:-0}" = 1 ] || [ ! -x "$BIN" ] || [ "$(cat "$BIN.stamp" 2>/dev/null)" != "$stamp" ]; then
  command -v "$GO" >/dev/null 2>&1 || { log "error: Go is needed to build Compose"; exit 1; }
  export GOTOOLCHAIN=local CGO_ENABLED=0
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  start=$EPOCHREALTIME
  dir="$("$GO" mod download -json "github.com/docker/compose/v2@$VERSION" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
  cp -r "$dir" "$work/src"
  chmod -R u+w "$work/src"
  log "building Compose $VERSION from its Go module (~25 min cold, a minute or two warm)"
  (cd "$work/src" && nice -n "${NICE:-10}" "$GO" build -mod=mod -trimpath \
    -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$VERSION" \
    -o "$work/docker-compose" ./cmd)
  install -m 0755 "$work/docker-compose" "$BIN"
  echo "$stamp" >"$BIN.stamp"
  seconds="$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')"
  python3 - "$CACHE/build_times.json" "$VERSION" "$seconds" <<'EOF'
import json, sys, time
path, version, seconds = sys.argv[1:]
try:
    with open(path) as fh:
        times = json.load(fh)
except (OSError, ValueError):
    times = []
times.append({"compose": version, "seconds": float(seconds), "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
with open(path, "w") as fh:
    json.dump(times, fh, indent=1)
EOF
  log "built in $seconds s"
fi
if ! docker compose version >/dev/null 2>&1; then
  mkdir -p "$PLUGIN_DIR"
  install -m 0755 "$BIN" "$PLUGIN_DIR/docker-compose"
  log "installed as the docker compose CLI plugin ($PLUGIN_DIR)"
fi
"$BIN" version
