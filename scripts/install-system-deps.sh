#!/usr/bin/env bash
# Installs the real servers the tests and the demo run (Debian packages), if missing:
# redis-server, prometheus (+ promtool), etcd, postgresql (the decision record's tests run
# initdb + pg_ctl from /usr/lib/postgresql/*/bin), wrk (benchmarks), shellcheck, debootstrap
# (the Debian-built base image when no registry answers), jq (the kind runtime shim). The Docker engine itself:
# scripts/docker/engine.sh (make docker), which leaves a user's own engine alone.
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v prometheus >/dev/null || need+=(prometheus)
command -v etcd >/dev/null || need+=(etcd-server)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v wrk >/dev/null || need+=(wrk)
command -v shellcheck >/dev/null || need+=(shellcheck)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v jq >/dev/null || need+=(jq)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian packages: ${need[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# the packages start system services where an init system runs; tests start their own
for svc in redis-server prometheus etcd postgresql; do
  $sudo service "$svc" stop >/dev/null 2>&1 || true
done
