#!/usr/bin/env bash
# Makes sure a Docker engine answers, installing and starting one only when needed.
#
#   bash scripts/docker/engine.sh          # install (Debian, root) + start dockerd if none answers
#   bash scripts/docker/engine.sh --stop   # stop the dockerd this script started
#
# A user's own engine (Docker Desktop, colima, a system dockerd, DOCKER_HOST) is used as it
# is: when `docker info` answers, this script changes nothing.
# Otherwise, on Debian as root (or with sudo), it installs Debian's `docker.io` (Docker
# Engine with containerd and runc) and starts `dockerd` in the background, logging to
# .cache/docker/dockerd.log. What that does to the host: a `docker0` bridge
# (172.17.0.0/16), iptables NAT/FORWARD rules in DOCKER* chains, state in /var/lib/docker,
# the socket /var/run/docker.sock. `make docker-stop` stops the dockerd started here.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$REPO_ROOT/.cache/docker"
log() { printf '[docker] %s\n' "$*" >&2; }
die() { printf '[docker] error: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = --stop ]; then
  pid="$(cat "$STATE/dockerd.pid" 2>/dev/null || true)"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    log "stopping the dockerd started here (pid $pid)"
    kill "$pid"
  fi
  rm -f "$STATE/dockerd.pid"
  exit 0
fi

answers() { command -v docker >/dev/null 2>&1 && timeout 10 docker info >/dev/null 2>&1; }

if answers; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v dockerd >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 \
    || die "no Docker engine answers and this is not Debian: install Docker, start it (or set DOCKER_HOST) and retry"
  log "installing Debian's docker.io (Docker Engine + containerd + runc)"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    docker.io iptables >/dev/null
  # the package starts its own service where an init system runs; then it answers already
  answers && exit 0
fi
# the CLI of docker.io may be older than a docker already first on PATH; both talk to dockerd
mkdir -p "$STATE"
log "starting dockerd (log: $STATE/dockerd.log)"
# setsid: dockerd outlives this script and the make that ran it
$sudo setsid dockerd >"$STATE/dockerd.log" 2>&1 </dev/null &
echo $! >"$STATE/dockerd.pid"
for _ in $(seq 60); do
  answers && { log "dockerd is up"; exit 0; }
  sleep 1
done
tail -n 20 "$STATE/dockerd.log" >&2
die "dockerd did not answer within 60 s (log above)"
