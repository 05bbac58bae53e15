#!/usr/bin/env bash
# The Debian userland of the offline kind node image (what kind's base image installs with
# apt: systemd, iptables/nftables, conntrack, iproute2, mount tools, runc, CNI plugins),
# made with debootstrap on the host and imported as a Docker image. Cached: the rootfs
# tarball lives in ~/.cache/creditrisk-kind/ and the image is only re-imported when missing.
#
#   bash scripts/kind/offline/base-rootfs.sh      # prints the image name
set -euo pipefail
# shellcheck source=scripts/kind/offline/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

packages=(
  systemd conntrack iptables nftables iproute2 ethtool util-linux mount kmod
  libseccomp2 pigz e2fsprogs bash ca-certificates curl jq procps
  runc containernetworking-plugins
)
pkg_hash="$(printf '%s\n' "$DEBIAN_SUITE" "${packages[@]}" | sha256sum | cut -c1-12)"
image="creditrisk/kind-node-rootfs:$DEBIAN_SUITE-$pkg_hash"
tarball="$CACHE/rootfs-$DEBIAN_SUITE-$pkg_hash.tar"

if docker image inspect "$image" >/dev/null 2>&1; then
  printf '%s\n' "$image"
  exit 0
fi
mkdir -p "$CACHE"
if [[ ! -f "$tarball" ]]; then
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (apt-get install debootstrap)"
  [[ "$(id -u)" -eq 0 ]] || die "debootstrap needs root"
  mirror="${DEBIAN_MIRROR:-}"
  if [[ -z "$mirror" ]]; then
    mirror="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
      | head -n 1 | awk '{print $2}' || true)"
    mirror="${mirror:-http://deb.debian.org/debian}"
  fi
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs" "$rootfs.log"' EXIT
  log "debootstrap $DEBIAN_SUITE from $mirror with ${#packages[@]} packages (a minute or two)"
  include="$(IFS=,; printf '%s' "${packages[*]}")"
  debootstrap --variant=minbase --include="$include" "$DEBIAN_SUITE" "$rootfs" "$mirror" \
    >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
    "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log
  tar -C "$rootfs" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi
log "docker import $image"
docker import --message "Debian $DEBIAN_SUITE minbase for the offline kind node (scripts/kind/offline)" \
  "$tarball" "$image" >/dev/null
printf '%s\n' "$image"
