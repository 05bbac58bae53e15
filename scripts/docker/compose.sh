#!/usr/bin/env bash
# Docker Compose v2 as a CLI plugin (~/.docker/cli-plugins/docker-compose), built from its
# Go module where no binary can be downloaded: `go install` refuses the module (replace
# directives), so: `go mod download -json` it, then `go build -mod=mod ./cmd` inside a
# copy. About 25 min cold on 2 cores (a warm Go build cache: a minute). Skipped when
# `docker compose version` already answers.
set -euo pipefail
VERSION="${COMPOSE_VERSION:-v2.40.3}"
PLUGIN_DIR="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
log() { printf '[compose] %s\n' "$*" >&2; }

if docker compose version >/dev/null 2>&1; then
  exit 0
fi
command -v go >/dev/null 2>&1 || { log "error: Go is needed to build Compose"; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
dir="$(go mod download -json "github.com/docker/compose/v2@$VERSION" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
log "building Compose $VERSION from its Go module"
(cd "$work/src" && CGO_ENABLED=0 go build -mod=mod -trimpath \
  -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$VERSION" \
  -o "$work/docker-compose" ./cmd)
mkdir -p "$PLUGIN_DIR"
install -m 0755 "$work/docker-compose" "$PLUGIN_DIR/docker-compose"
docker compose version
