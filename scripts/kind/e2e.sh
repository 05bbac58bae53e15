#!/usr/bin/env bash
# make e2e-kind: on the deployed kind release, with scoring traffic flowing through the
# gateway (Envoy Gateway online, Traefik offline) the whole time:
#   1. train v2 (a Job from the chart's trainer template), roll it out with a ModelRollout,
#      wait for promotion (phase Succeeded, stable serves v2);
#   2. train a faulty v3 (drifted training data), point the rollout at it, wait for the
#      automatic rollback (phase Failed, stable still serves v2);
#   3. check the traffic saw (almost) no errors. Logs and events are dumped on failure.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_docker
require_tools kubectl helm python3

work="$(mktemp -d)"
pids=()
cleanup() {
  local code=$?
  touch "$work/stop"
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if (( code != 0 )); then bash "$REPO_ROOT/scripts/kind/dump-logs.sh" || true; fi
  rm -rf "$work"
  exit "$code"
}
trap cleanup EXIT

inference="$RELEASE-inference"
trainer="$RELEASE-trainer"
mro="$RELEASE-e2e"

# --- the Gateway's data-plane Service, port-forwarded (kind has no LoadBalancer) ------
# online: the Service Envoy Gateway made for the release's Gateway; offline: Traefik's
gateway_svc=""
for _ in $(seq 60); do
  gateway_svc="$(kubectl --context "$KUBE_CONTEXT" -n "$GATEWAY_SVC_NAMESPACE" get svc \
    -l "$GATEWAY_SVC_SELECTOR" -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)"
  [[ -n "$gateway_svc" ]] && break
  sleep 5
done
[[ -n "$gateway_svc" ]] || die "no gateway Service ($GATEWAY_SVC_SELECTOR in $GATEWAY_SVC_NAMESPACE) for Gateway $NAMESPACE/$RELEASE"
port=18080
kubectl --context "$KUBE_CONTEXT" -n "$GATEWAY_SVC_NAMESPACE" port-forward "svc/$gateway_svc" "$port:80" \
  >"$work/port-forward.log" 2>&1 &
pids+=($!)
url="http://127.0.0.1:$port"
api_key="$(kubectl_ns get secret "$RELEASE-api-key" -o jsonpath='{.data.api-key}' | base64 -d)"
for _ in $(seq 60); do
  curl -fsS -o /dev/null -H "X-API-Key: $api_key" "$url/api/v1/model/info" && break
  sleep 2
done
curl -fsS -H "X-API-Key: $api_key" "$url/api/v1/model/info" >/dev/null || die "gateway does not answer at $url"
# below the chart's per-key rate limit (inference.rateLimit 600/minute = 10/s): at 20/s
# a third of the e2e's requests were 429 on kind (tests/integration/deploy/test_chart_kind.py)
log "scoring through the gateway at $url"
python3 "$REPO_ROOT/scripts/kind/traffic.py" "$url" "$api_key" --rps "${E2E_RPS:-8}" --seconds 3600 \
  --stop-file "$work/stop" >"$work/traffic.json" &
traffic_pid=$!

served_version() {
  # the version sits in the answer's "model" object (ModelInfo), not at its top level
  curl -fsS -H "X-API-Key: $api_key" "$url/api/v1/model/info" \
    | python3 "$REPO_ROOT/scripts/kind/model_version.py"
}

# a Job like the chart's trainer Job (same image, env, security), new name, optional command
run_training() {
  local name="$1" command_json="${2:-}"
  kubectl_ns get job "$trainer" -o json \
    | python3 "$REPO_ROOT/scripts/kind/job_copy.py" "$name" "$command_json" | kubectl_ns apply -f -
  kubectl_ns wait --for=condition=complete "job/$name" --timeout=20m
}

wait_phase() {
  local phase="$1"
  log "waiting for ModelRollout $mro to reach $phase"
  kubectl_ns wait "modelrollout/$mro" --for=jsonpath='{.status.phase}'="$phase" --timeout=30m
  kubectl_ns get modelrollout "$mro" -o wide
}

apply_rollout() {
  kubectl_ns apply -f - <<YAML
apiVersion: mlops.creditrisk.io/v1alpha1
kind: ModelRollout
metadata:
  name: $mro
  namespace: $NAMESPACE
spec:
  targetRef: {kind: Deployment, name: $inference}
  model: {uri: "$1"}
  canary: {steps: [20, 50], interval: 30s, failureThreshold: 2, progressDeadline: 10m}
  analysis: {minRequests: 20}
  autoscaling: {minReplicas: 1, maxReplicas: 2}
  router: {httpRoute: {name: $inference}}
  prometheus: {address: "$PROMETHEUS_URL", selector: {namespace: $NAMESPACE}}
YAML
}

# --- 1. v2: a good candidate is promoted ----------------------------------------------
[[ "$(served_version)" == "1" ]] || die "expected the first champion (v1) to be served"
log "training v2"
run_training "$RELEASE-train-v2"
apply_rollout "models:/credit-default/2"
wait_phase Succeeded
for _ in $(seq 60); do [[ "$(served_version)" == "2" ]] && break; sleep 5; done
[[ "$(served_version)" == "2" ]] || die "stable does not serve v2 after promotion"
log "v2 promoted and served"

# --- 2. v3: a faulty candidate is rolled back -------------------------------------------
kubectl_ns create configmap creditrisk-e2e --from-file="$REPO_ROOT/scripts/kind/train_drifted.py" \
  --dry-run=client -o yaml | kubectl_ns apply -f -
log "training the faulty v3 (drifted data)"
run_training "$RELEASE-train-v3" '["python", "/opt/e2e/train_drifted.py"]'
kubectl_ns patch modelrollout "$mro" --type=merge -p '{"spec": {"model": {"uri": "models:/credit-default/3"}}}'
wait_phase Failed
[[ "$(served_version)" == "2" ]] || die "stable does not serve v2 after the rollback"
log "v3 rolled back, v2 still served"

# --- 3. the traffic saw no outage --------------------------------------------------------
touch "$work/stop"
wait "$traffic_pid" || die "scoring traffic saw too many errors: $(cat "$work/traffic.json")"
log "traffic: $(cat "$work/traffic.json")"
log "e2e passed"
