#!/usr/bin/env bash
# Pod networking for a kind cluster made with disableDefaultCNI (kindnetd is not buildable
# offline): on every node, a ptp + host-local CNI config for the node's podCIDR, and a
# route to each other node's podCIDR via that node's IP (all nodes share kind's Docker
# network). No NetworkPolicy enforcement: that needs a policy agent (e.g. kube-router,
# buildable from its Go module) as a follow-up.
#
#   bash scripts/kind/offline/cni.sh [CLUSTER_NAME]     # default: kind
set -euo pipefail
# shellcheck source=scripts/kind/offline/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

cluster="${1:-${KIND_CLUSTER_NAME:-kind}}"
kind_bin="${KIND:-$BIN/kind}"
kubeconfig="$(mktemp)"
trap 'rm -f "$kubeconfig"' EXIT
"$kind_bin" get kubeconfig --name "$cluster" >"$kubeconfig"
kc() { "${KUBECTL:-$BIN/kubectl}" --kubeconfig "$kubeconfig" "$@"; }

mapfile -t nodes < <("$kind_bin" get nodes --name "$cluster")
(( ${#nodes[@]} > 0 )) || die "cluster $cluster has no nodes"
pod_subnet="$(kc -n kube-system get configmap kubeadm-config -o jsonpath='{.data.ClusterConfiguration}' \
  | awk '/podSubnet:/ {print $2}')"
pod_subnet="${pod_subnet:-10.244.0.0/16}"
declare -A cidr ip
for n in "${nodes[@]}"; do
  for _ in $(seq 60); do
    cidr[$n]="$(kc get node "$n" -o jsonpath='{.spec.podCIDR}' 2>/dev/null || true)"
    [[ -n "${cidr[$n]}" ]] && break
    sleep 2
  done
  [[ -n "${cidr[$n]}" ]] || die "node $n has no podCIDR (is the controller-manager running?)"
  ip[$n]="$(docker inspect --format '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$n")"
done

for n in "${nodes[@]}"; do
  log "$n: ptp CNI for ${cidr[$n]}"
  docker exec -i "$n" sh -c 'cat >/etc/cni/net.d/10-offline-ptp.conflist.tmp && mv /etc/cni/net.d/10-offline-ptp.conflist.tmp /etc/cni/net.d/10-offline-ptp.conflist' <<JSON
{
  "cniVersion": "0.4.0",
  "name": "kind-offline",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "ranges": [[{ "subnet": "${cidr[$n]}" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      },
      "mtu": 1500
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
  # pod traffic leaving the cluster's pod range is masqueraded by the node
  docker exec "$n" sh -c "iptables -t nat -C POSTROUTING -s ${cidr[$n]} ! -d $pod_subnet -j MASQUERADE 2>/dev/null \
    || iptables -t nat -A POSTROUTING -s ${cidr[$n]} ! -d $pod_subnet -j MASQUERADE"
  for m in "${nodes[@]}"; do
    [[ "$m" == "$n" ]] && continue
    docker exec "$n" ip route replace "${cidr[$m]}" via "${ip[$m]}"
  done
done
log "CNI configured on ${#nodes[@]} node(s)"
