#!/usr/bin/env bash
# Builds the offline Python base image from Debian packages, for machines that cannot pull
# the official python:*-slim image (no registry reachable):
#
#   bash scripts/docker/base-image.sh [TAG]     # default creditrisk/python-base:3.11-bookworm
#
# debootstrap --variant=minbase of Debian bookworm (which ships Python 3.11) with python3,
# python3-venv and ca-certificates, trimmed (no .deb cache, apt lists, docs, man pages,
# locales, iconv charset modules), then `docker import`. Skipped when the tag exists already (PYTHON_BASE_REBUILD=1
# forces it). The mirror is the one apt uses here (DEBIAN_MIRROR overrides it).
set -euo pipefail
TAG="${1:-${PYTHON_BASE_IMAGE:-creditrisk/python-base:3.11-bookworm}}"
SUITE="${DEBIAN_SUITE:-bookworm}"
log() { printf '[base] %s\n' "$*" >&2; }

if [ "${PYTHON_BASE_REBUILD:-0}" != 1 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | head -n 1 | awk '{print $2}' || true)"
  mirror="${mirror:-http://deb.debian.org/debian}"
fi
rootfs="$(mktemp -d)"
trap '$sudo rm -rf "$rootfs"' EXIT
log "debootstrap $SUITE from $mirror (about a minute)"
$sudo debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  "$SUITE" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || { tail -n 30 "$rootfs.log" >&2; exit 1; }
rm -f "$rootfs.log"
$sudo rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/locale/* "$rootfs"/var/log/* "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/usr/lib/*-linux-gnu/gconv/*.so
# gconv: glibc's iconv modules for legacy charsets (9 MB); Python's codecs are its own
# Debian has no `python` command; the official image does
$sudo ln -sf python3 "$rootfs/usr/bin/python"
log "docker import $TAG"
$sudo tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "Debian $SUITE minbase + python3 (scripts/docker/base-image.sh)" - "$TAG" >/dev/null
docker image ls "$TAG"
