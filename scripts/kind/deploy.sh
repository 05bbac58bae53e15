#!/usr/bin/env bash
# make deploy: helm upgrade --install the chart with the kind values (locally built images,
# a Gateway of class eg, ServiceMonitors/PrometheusRule/dashboard for kube-prometheus-stack;
# offline profile: values-kind-offline.yaml on top, Traefik's class, no Operator objects),
# then wait for the first champion to be trained and served.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_docker
require_tools kubectl helm

kubectl --context "$KUBE_CONTEXT" apply -f "$REPO_ROOT/k8s/namespace.yaml"
values=(-f "$REPO_ROOT/scripts/kind/values-kind.yaml")
profile_values_file="$(profile_values)"
if [[ -n "$profile_values_file" ]]; then
  values+=(-f "$profile_values_file" --set "redis.image.repository=$IMAGE_REPO/redis" --set "redis.image.tag=$IMAGE_TAG")
fi
# after a ModelRollout promotion the operator owns the stable Deployment's MODEL_URI
# (server-side apply): helm 4's upgrade then fails on that conflict unless forced
# (DEPLOY_HELM_ARGS="--force-conflicts"; found on the kind cluster, not yet the default)
read -r -a DEPLOY_HELM_ARGS <<<"${DEPLOY_HELM_ARGS:-}"
log "helm upgrade --install $RELEASE"
helm upgrade --install "$RELEASE" "$REPO_ROOT/helm/creditrisk" --kube-context "$KUBE_CONTEXT" \
  -n "$NAMESPACE" "${values[@]}" \
  --set "image.tag=$IMAGE_TAG" --set "inference.image.repository=$IMAGE_REPO/inference" \
  --set "batch.image.repository=$IMAGE_REPO/batch" --set "trainer.image.repository=$IMAGE_REPO/trainer" \
  --set "mlflow.image.repository=$IMAGE_REPO/trainer" --set "controller.image.repository=$IMAGE_REPO/controller" \
  --set "tests.image.repository=$IMAGE_REPO/inference" \
  --wait --wait-for-jobs --timeout 20m "${DEPLOY_HELM_ARGS[@]}"
kubectl_ns rollout status "deployment/$RELEASE-inference" --timeout 10m
# make test-kind sets DEPLOY_HELM_TEST=0: its scenarios run helm test themselves
[[ "${DEPLOY_HELM_TEST:-1}" == 1 ]] || exit 0
helm test "$RELEASE" --kube-context "$KUBE_CONTEXT" -n "$NAMESPACE" --timeout 5m --logs
