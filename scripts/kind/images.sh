#!/usr/bin/env bash
# make images: build the four platform images from the repository root (one context,
# .dockerignore keeps it small), tagged $IMAGE_REPO/<name>:$IMAGE_TAG.
#   1. the wheelhouse (.cache/wheelhouse, on the host; builds install from it offline)
#   2. the Python base: $PYTHON_IMAGE when set; else the official slim image when it can be
#      pulled; else one built here from Debian packages (scripts/docker/base-image.sh)
#   3. $IMAGE_REPO/base:$IMAGE_TAG (deploy/docker/base.Dockerfile), shared by every image
#   4. inference, batch, trainer, controller (FROM that base, each with its own extra)
#   5. redis and prometheus from Debian packages (deploy/docker/*.Dockerfile)
# Build times go to .cache/docker/build-times.tsv (bench/containers reads them).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_docker

OFFICIAL_PYTHON_IMAGE="${OFFICIAL_PYTHON_IMAGE:-python:3.11.14-slim-trixie}"
DEBIAN_PYTHON_IMAGE="${DEBIAN_PYTHON_IMAGE:-creditrisk/python-base:3.11-bookworm}"
# no buildx plugin: the classic builder (under BuildKit without buildx a build fails here)
if [ -z "${DOCKER_BUILDKIT:-}" ] && ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi
times="$REPO_ROOT/.cache/docker/build-times.tsv"
mkdir -p "$(dirname "$times")"
: >"$times"
timed() {  # timed STEP command...: run it and record its wall time in seconds
  local step="$1" start
  shift
  start=$EPOCHREALTIME
  "$@"
  awk -v step="$step" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%s\t%.1f\n", step, b - a }' >>"$times"
}

timed wheelhouse bash "$REPO_ROOT/scripts/docker/wheelhouse.sh"

python_image="${PYTHON_IMAGE:-}"
if [ -z "$python_image" ]; then
  if docker image inspect "$OFFICIAL_PYTHON_IMAGE" >/dev/null 2>&1 \
    || timeout "${PULL_TIMEOUT:-120}" docker pull -q "$OFFICIAL_PYTHON_IMAGE" >/dev/null 2>&1; then
    python_image="$OFFICIAL_PYTHON_IMAGE"
  else
    log "cannot pull $OFFICIAL_PYTHON_IMAGE (no registry): using $DEBIAN_PYTHON_IMAGE, built from Debian packages"
    timed python-base bash "$REPO_ROOT/scripts/docker/base-image.sh" "$DEBIAN_PYTHON_IMAGE"
    python_image="$DEBIAN_PYTHON_IMAGE"
  fi
fi

read -r -a extra <<<"${DOCKER_BUILD_ARGS:-}"  # e.g. DOCKER_BUILD_ARGS="--no-cache"
quiet=(--quiet)
[ "${VERBOSE:-0}" = 1 ] && quiet=()
base="$IMAGE_REPO/base:$IMAGE_TAG"
log "building $base on $python_image"
timed base docker build "${quiet[@]}" --file "$REPO_ROOT/deploy/docker/base.Dockerfile" \
  --build-arg "PYTHON_IMAGE=$python_image" --tag "$base" "${extra[@]}" "$REPO_ROOT" >/dev/null
for name in $IMAGES; do
  log "building $IMAGE_REPO/$name:$IMAGE_TAG"
  timed "$name" docker build "${quiet[@]}" --file "$REPO_ROOT/$(dockerfile_of "$name")" \
    --build-arg "BASE_IMAGE=$base" --tag "$IMAGE_REPO/$name:$IMAGE_TAG" \
    "${extra[@]}" "$REPO_ROOT" >/dev/null
done
# Redis and Prometheus from Debian packages, the same wherever a registry answers or not:
# the container tests use creditrisk/redis, compose uses both through REDIS_IMAGE and
# PROMETHEUS_IMAGE (SUPPORT_IMAGES="" skips them)
debian_image=debian:bookworm-slim
[ "$python_image" = "$DEBIAN_PYTHON_IMAGE" ] && debian_image="$DEBIAN_PYTHON_IMAGE"
for name in ${SUPPORT_IMAGES-redis prometheus}; do
  log "building $IMAGE_REPO/$name:$IMAGE_TAG from Debian packages"
  timed "$name" docker build "${quiet[@]}" --file "$REPO_ROOT/deploy/docker/$name.Dockerfile" \
    --build-arg "DEBIAN_IMAGE=$debian_image" --tag "$IMAGE_REPO/$name:$IMAGE_TAG" \
    "${extra[@]}" "$REPO_ROOT/deploy/docker" >/dev/null
done
docker image ls --filter "reference=$IMAGE_REPO/*:$IMAGE_TAG"
