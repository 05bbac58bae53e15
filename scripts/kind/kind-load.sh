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
# one `kind load` for all of them: one archive, so the layers the images share (the base,
# the wheels) are saved and imported once (one call per image took 130 s here, loaded)
refs=()
for name in $names; do refs+=("$IMAGE_REPO/$name:$IMAGE_TAG"); done
log "loading ${refs[*]} into $CLUSTER_NAME"
kind load docker-image --name "$CLUSTER_NAME" "${refs[@]}"
