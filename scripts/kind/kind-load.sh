#!/usr/bin/env bash
# make kind-load: copy the built images into the kind nodes (no registry needed).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_docker
require_tools kind

names="$IMAGES"
# offline: Redis from Debian's package too (docker.io/library/redis cannot be pulled)
[[ "$KIND_PROFILE" == offline ]] && names="$names ${OFFLINE_SUPPORT_IMAGES-redis}"
for name in $names; do
  log "loading $IMAGE_REPO/$name:$IMAGE_TAG into $CLUSTER_NAME"
  kind load docker-image --name "$CLUSTER_NAME" "$IMAGE_REPO/$name:$IMAGE_TAG"
done
