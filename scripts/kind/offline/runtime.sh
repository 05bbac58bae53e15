#!/usr/bin/env bash
# Registers scripts/kind/offline/runc-shim.sh as dockerd's default OCI runtime, but only
# on hosts that need it: where the capability bounding set lacks CAP_SYS_RESOURCE, so that
# privileged containers (kind's nodes) cannot start with plain runc.
#
#   bash scripts/kind/offline/runtime.sh           # detect; register when needed
#   bash scripts/kind/offline/runtime.sh --check   # exit 0 when privileged containers start
#
# What it changes when needed (root, local dockerd): installs the shim as
# /usr/local/libexec/creditrisk/runc-shim, merges "runtimes" + "default-runtime" into
# /etc/docker/daemon.json (other keys kept) and sends dockerd SIGHUP (a live reload:
# running containers are untouched). The shim only edits containers that ask for
# CAP_SYS_RESOURCE; every other container runs exactly as with runc.
set -euo pipefail
# shellcheck source=scripts/kind/offline/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

name=creditrisk-runc
dest=/usr/local/libexec/creditrisk/runc-shim
conf=/etc/docker/daemon.json
# any local image with /bin/true; a fresh engine holds none (then `grep` matched nothing and
# set -e ended this script silently with status 1, found after a reboot): one is made of
# the host's /bin/true and the libraries it loads
probe_image() {
  local image="${RUNTIME_PROBE_IMAGE:-}" root lib
  if [[ -z "$image" ]]; then
    image="$(docker image ls --format '{{.Repository}}:{{.Tag}}' | { grep -v '<none>' || true; } | head -n 1)"
  fi
  if [[ -z "$image" ]]; then
    image=creditrisk/runtime-probe:1
    root="$(mktemp -d)"
    mkdir -p "$root/bin"
    cp /bin/true "$root/bin/true"
    for lib in $(ldd /bin/true 2>/dev/null | grep -o '/[^ ]*' || true); do
      mkdir -p "$root$(dirname "$lib")"
      cp -L "$lib" "$root$lib"
    done
    tar -C "$root" -c . | docker import - "$image" >/dev/null
    rm -rf "$root"
  fi
  printf '%s\n' "$image"
}

privileged_starts() {
  local image
  image="$(probe_image)"
  docker run --rm --privileged --user 0 --entrypoint /bin/true "$image" >/dev/null 2>&1
}

# CAP_SYS_RESOURCE is capability 24
host_lacks_sys_resource() {
  local pid bnd
  pid="$(pidof dockerd 2>/dev/null | awk '{print $1}')"
  bnd="$(awk '/^CapBnd:/ {print $2}' "/proc/${pid:-self}/status")"
  (( (16#$bnd >> 24 & 1) == 0 ))
}

if [[ "${1:-}" == --check ]]; then
  privileged_starts
  exit
fi
if ! host_lacks_sys_resource; then
  log "the host's bounding set has CAP_SYS_RESOURCE: plain runc is fine, no shim registered"
  exit 0
fi
if [[ "$(docker info --format '{{.DefaultRuntime}}')" == "$name" ]] && cmp -s "$OFFLINE_DIR/runc-shim.sh" "$dest"; then
  log "dockerd already runs containers through $name ($dest)"
  exit 0
fi
[[ "$(id -u)" -eq 0 ]] || die "registering the runtime shim needs root (dockerd's config)"
pid="$(pidof dockerd 2>/dev/null | awk '{print $1}')"
[[ -n "$pid" ]] || die "no local dockerd: register $dest as its default runtime by hand"
log "host lacks CAP_SYS_RESOURCE: installing $dest as dockerd's default runtime '$name'"
install -D -m 0755 "$OFFLINE_DIR/runc-shim.sh" "$dest"
mkdir -p "$(dirname "$conf")"
[[ -s "$conf" ]] || echo '{}' >"$conf"
jq --arg name "$name" --arg path "$dest" \
  '.runtimes[$name] = {path: $path} | .["default-runtime"] = $name' "$conf" >"$conf.tmp"
mv -f "$conf.tmp" "$conf"
kill -HUP "$pid"
for _ in $(seq 20); do
  [[ "$(docker info --format '{{.DefaultRuntime}}')" == "$name" ]] && break
  sleep 0.5
done
[[ "$(docker info --format '{{.DefaultRuntime}}')" == "$name" ]] || die "dockerd did not take $name (see its log)"
privileged_starts || die "privileged containers still fail with $name"
log "dockerd's default runtime is now $name; privileged containers start"
