#!/usr/bin/env bash
# The offline profile's NetworkPolicy agent from its Go module, static, into
# $CACHE/bin/kube-router (cached by a stamp). Prints the binary's path.
#
# Which agent: sigs.k8s.io/kube-network-policies (SIG Network's, nftables + nfqueue) was
# built and run first; it cannot enforce on this kind of host: the kernel has no nftables
# queue expression (CONFIG_NFT_QUEUE unset; `nft add rule ... queue num N` fails with
# ENOENT; the iptables NFQUEUE target and ipset exist). kube-router's firewall controller
# uses iptables + ipset only. Caveat: v2.1.0 is the newest the module proxy serves here and
# security flaws are reported for it; it runs only inside the throwaway kind test cluster,
# firewall controller only (no BGP, no service proxy, no metrics port).
set -euo pipefail
# shellcheck source=scripts/kind/offline/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

version="${KUBE_ROUTER_VERSION:-v2.1.0}"
module=github.com/cloudnativelabs/kube-router/v2
bin="$BIN/kube-router"
stamp="$bin.stamp"
want="$module@$version $("$GO" env GOVERSION)"
if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$bin"
  exit 0
fi
mkdir -p "$BIN" "$SRC"
t0="$(date +%s)"
log "building kube-router $version (Go module)"
# build inside a copy of the module source (-mod=mod resolves its go.mod as the main module)
dir="$("$GO" mod download -json "$module@$version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
work="$SRC/kube-router-$version"
rm -rf "$work"
cp -r "$dir" "$work"
chmod -R u+w "$work"
(cd "$work" && CGO_ENABLED=0 nice -n "$NICE" "$GO" build -mod=mod -trimpath -ldflags "-s -w" -o "$bin" ./cmd/kube-router)
printf '%s\n' "$want" >"$stamp"
printf 'kube-router %s\t%ss\n' "$version" "$(( $(date +%s) - t0 ))" >>"$CACHE/times.txt"
echo "$bin"
