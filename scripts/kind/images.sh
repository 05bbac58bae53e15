#!/usr/bin/env bash
# make images: build the four platform images from the repository root (one context,
# .dockerignore keeps it small), tagged $IMAGE_REPO/<name>:$IMAGE_TAG.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_docker

read -r -a extra <<<"${DOCKER_BUILD_ARGS:-}"  # e.g. DOCKER_BUILD_ARGS="--pull --no-cache"
for name in $IMAGES; do
  log "building $IMAGE_REPO/$name:$IMAGE_TAG"
  docker build --file "$REPO_ROOT/$(dockerfile_of "$name")" --tag "$IMAGE_REPO/$name:$IMAGE_TAG" \
    "${extra[@]}" "$REPO_ROOT"
done
docker image ls --filter "reference=$IMAGE_REPO/*:$IMAGE_TAG"
