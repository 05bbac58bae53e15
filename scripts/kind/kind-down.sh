#!/usr/bin/env bash
# make kind-down: delete the kind cluster.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_docker
require_tools kind
kind delete cluster --name "$CLUSTER_NAME"
rm -f "$PROFILE_FILE"
