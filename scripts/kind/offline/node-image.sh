#!/usr/bin/env bash
# Builds a kind node image here, offline: Debian (debootstrap) + binaries built from Go
# modules, with every image kubeadm needs preloaded into the node's containerd, after the
# recipe of kind's own base/node images (their static files are copied from kind's module in
# the Go module cache at build time; nothing fetched is committed).
#
#   bash scripts/kind/offline/node-image.sh        # -> $KIND_NODE_IMAGE (creditrisk/kind-node:v1.37.2)
#   KIND_NODE_REBUILD=1 bash scripts/kind/offline/node-image.sh
#
# Steps (each cached): binaries.sh -> base-rootfs.sh -> one tiny image per component
# (registry.k8s.io/kube-apiserver:..., etcd, coredns, pause, kube-proxy) -> the node image
# (FROM the rootfs) -> its containerd loaded with those images (`ctr images import
# --no-unpack`, as `kind build node-image` does) -> `docker commit`.
# Timings: ~/.cache/creditrisk-kind/times.txt.
set -euo pipefail
# shellcheck source=scripts/kind/offline/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

t0="$(date +%s)"
command -v docker >/dev/null 2>&1 || die "docker is missing (make docker)"
stamp_of() { docker image inspect --format '{{ index .Config.Labels "creditrisk.kind-offline.stamp" }}' "$1" 2>/dev/null || true; }

bash "$OFFLINE_DIR/binaries.sh"
rootfs_image="$(bash "$OFFLINE_DIR/base-rootfs.sh")"
kind_dir="$SRC/sigs.k8s.io_kind@$KIND_VERSION"
[[ -d "$kind_dir/images/base/files" ]] || die "kind's module is not in $kind_dir (binaries.sh puts it there)"

# content hash of everything that goes into an image (binaries, files, this script)
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# component IMAGE_TAG BASE BINARY DEST [ENTRYPOINT_JSON]
component() {
  local tag="$1" base="$2" bin="$3" dest="$4" entry="${5:-}" ctx stamp
  stamp="$(hash_of "$BIN/$bin" "${BASH_SOURCE[0]}")-$base"
  if [[ -z "${KIND_NODE_REBUILD:-}" && "$(stamp_of "$tag")" == "$stamp" ]]; then
    log "$tag: up to date"
    return 0
  fi
  ctx="$CACHE/ctx/$bin"
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp "$BIN/$bin" "$ctx/$bin"
  {
    printf 'FROM %s\n' "$base"
    printf 'COPY %s %s\n' "$bin" "$dest"
    printf 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n'
    [[ -z "$entry" ]] || printf 'ENTRYPOINT %s\n' "$entry"
    printf 'LABEL creditrisk.kind-offline.stamp="%s"\n' "$stamp"
  } >"$ctx/Dockerfile"
  nice -n "$NICE" docker build -q -t "$tag" "$ctx" >/dev/null
  log "$tag: built"
}

pause_image="registry.k8s.io/pause:$PAUSE_VERSION"
# kind's default StorageClass (local-path-provisioner): the manifest and image names are
# the ones `kind build node-image` writes, read from kind's module source
storage_go="$kind_dir/pkg/build/nodeimage/const_storage.go"
go_const() { sed -n "s/^const $1 = \"\(.*\)\"$/\1/p" "$storage_go"; }
storage_image="$(go_const storageProvisionerImage)"
helper_image="$(go_const storageHelperImage)"
[[ -n "$storage_image" && -n "$helper_image" ]] || die "no local-path image names in $storage_go"
images=(
  "$storage_image"
  "$helper_image"
  "registry.k8s.io/kube-apiserver:$K8S_VERSION"
  "registry.k8s.io/kube-controller-manager:$K8S_VERSION"
  "registry.k8s.io/kube-scheduler:$K8S_VERSION"
  "registry.k8s.io/kube-proxy:$K8S_VERSION"
  "registry.k8s.io/etcd:${ETCD_VERSION#v}-0"
  "registry.k8s.io/coredns/coredns:$COREDNS_VERSION"
  "$pause_image"
)
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  component "registry.k8s.io/$c:$K8S_VERSION" scratch "$c" "/usr/local/bin/$c"
done
# kube-proxy runs iptables/nft/conntrack: it needs the Debian userland
component "registry.k8s.io/kube-proxy:$K8S_VERSION" "$rootfs_image" kube-proxy /usr/local/bin/kube-proxy
component "registry.k8s.io/etcd:${ETCD_VERSION#v}-0" scratch etcd /usr/local/bin/etcd
component "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" scratch coredns /coredns '["/coredns"]'
component "$pause_image" scratch pause /pause '["/pause"]'
component "$storage_image" scratch local-path-provisioner /usr/local/bin/local-path-provisioner
# the helper pod runs `sh /script/setup` (mkdir/rm on the node): the Debian userland
component "$helper_image" "$rootfs_image" pause /usr/local/bin/pause

# --- the node image -----------------------------------------------------------------
node_bins=(kubelet kubeadm kubectl containerd containerd-shim-runc-v2 ctr crictl)
image_ids="$(for i in "${images[@]}"; do docker image inspect --format '{{.Id}}' "$i"; done | sha256sum | cut -c1-16)"
node_stamp="$(hash_of "${node_bins[@]/#/$BIN/}" "${BASH_SOURCE[0]}" "$OFFLINE_DIR/common.sh" "$storage_go")-$image_ids-$rootfs_image-$KIND_VERSION"
if [[ -z "${KIND_NODE_REBUILD:-}" && "$(stamp_of "$NODE_IMAGE")" == "$node_stamp" ]]; then
  log "$NODE_IMAGE: up to date ($(( $(date +%s) - t0 ))s)"
  exit 0
fi

ctx="$CACHE/ctx/node"
rm -rf "$ctx"; mkdir -p "$ctx/bin"
cp -r "$kind_dir/images/base/files" "$ctx/files"
chmod -R u+w,go-w "$ctx/files"
find "$ctx/files" -type f -exec chmod 0644 {} +
find "$ctx/files" -type d -exec chmod 0755 {} +
chmod 0755 "$ctx"/files/usr/local/bin/* "$ctx"/files/kind/bin/*
for b in "${node_bins[@]}"; do cp "$BIN/$b" "$ctx/bin/$b"; done
chmod 0755 "$ctx"/bin/*
# kind's containerd config, with the sandbox image kubeadm $K8S_VERSION expects
sed -i "s|sandbox_image = .*|sandbox_image = \"$pause_image\"|" "$ctx/files/etc/containerd/config.toml"
printf '%s' "$K8S_VERSION" >"$ctx/version"
# Lowering oom_score_adj needs CAP_SYS_RESOURCE. Where the node lacks it (hosts that need
# the runtime shim), runc cannot start any pod sandbox (kubelet asks for -998: "can't get
# final child's PID from pipe: EOF"), so containerd is told to clamp the value to its own
# (restrict_oom_score_adj, as for rootless). Decided when the node boots, not at build.
cat >"$ctx/files/kind/bin/restrict-oom-score-adj.sh" <<'SCRIPT'
#!/bin/bash
# containerd ExecStartPre (creditrisk offline node image): see node-image.sh
set -euo pipefail
bnd="$(awk '/^CapBnd:/ {print $2}' /proc/self/status)"
if (( (16#$bnd >> 24 & 1) == 0 )); then
  sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' /etc/containerd/config.toml
fi
SCRIPT
chmod 0755 "$ctx/files/kind/bin/restrict-oom-score-adj.sh"
mkdir -p "$ctx/files/etc/systemd/system/containerd.service.d"
printf '[Service]\nExecStartPre=/kind/bin/restrict-oom-score-adj.sh\n' \
  >"$ctx/files/etc/systemd/system/containerd.service.d/10-restrict-oom-score-adj.conf"
mkdir -p "$ctx/manifests"
# shellcheck disable=SC2016  # backquotes of Go source, not shell
sed -n '/^const defaultStorageManifest = `$/,/^`$/p' "$storage_go" | sed '1d;$d' \
  | sed "s|\` + storageProvisionerImage + \`|$storage_image|g; s|\` + storageHelperImage + \`|$helper_image|g" \
  >"$ctx/manifests/default-storage.yaml"
grep -q "image: $storage_image" "$ctx/manifests/default-storage.yaml" || die "could not render kind's storage manifest"

cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $rootfs_image
COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/LICENSES/ /LICENSES/
COPY files/etc/crictl.yaml /etc/crictl.yaml
COPY files/etc/containerd/ /etc/containerd/
COPY files/etc/default/ /etc/default/
COPY files/etc/sysctl.d/ /etc/sysctl.d/
COPY files/etc/systemd/system/ /etc/systemd/system/
COPY bin/kubelet bin/kubeadm bin/kubectl /usr/bin/
COPY bin/containerd bin/containerd-shim-runc-v2 bin/ctr bin/crictl /usr/local/bin/
COPY version /kind/version
COPY manifests/default-storage.yaml /kind/manifests/default-storage.yaml
RUN chmod 755 /kind /kind/bin \\
 && find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete \\
 && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
    /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
    /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \\
 && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \\
 && ln -sf /usr/lib/systemd/systemd /sbin/init \\
 && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
 && systemctl mask systemd-binfmt.service \\
 && mkdir -p /etc/kubernetes/manifests /opt/cni/bin /etc/cni/net.d /kind/manifests \\
 && for p in host-local loopback ptp portmap bridge; do cp /usr/lib/cni/\$p /opt/cni/bin/; done \\
 && ctr oci spec \\
    | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \\
    | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \\
 && containerd --version && runc --version && kubelet --version
ENV container=docker
STOPSIGNAL SIGRTMIN+3
DOCKERFILE

staged="creditrisk/kind-node-staged:$K8S_VERSION"
log "building the node image's filesystem ($staged)"
nice -n "$NICE" docker build -q -t "$staged" "$ctx" >/dev/null

# preload the component images into the node's containerd (content only, unpacked on use)
log "preloading ${#images[@]} images into the node's containerd"
cid="kind-offline-build-$$"
docker rm -f "$cid" >/dev/null 2>&1 || true
trap 'docker rm -f "$cid" >/dev/null 2>&1 || true' EXIT
docker run -d --name "$cid" --entrypoint sleep --security-opt seccomp=unconfined "$staged" infinity >/dev/null
docker exec "$cid" bash -c 'nohup containerd >/var/log/containerd-build.log 2>&1 &'
docker exec "$cid" bash -c 'for i in $(seq 30); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && exit 0; sleep 1; done; cat /var/log/containerd-build.log; exit 1'
docker save "${images[@]}" | docker exec -i "$cid" ctr --namespace=k8s.io images import \
  --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - >/dev/null
docker exec "$cid" ctr --namespace=k8s.io images list -q | grep -v '^sha256:' | sort >"$ctx/preloaded.txt"
for i in "${images[@]}"; do
  grep -qx "$i" "$ctx/preloaded.txt" || die "$i is missing from the node's containerd"
done
# (sleep is PID 1 and reaps nothing: a stopped containerd stays as a zombie)
docker exec "$cid" bash -c 'pkill containerd; for i in $(seq 40); do ps -C containerd -o stat= | grep -qv Z || exit 0; sleep 0.5; done; exit 1' \
  || die "containerd in the build container did not stop"

docker exec "$cid" rm -f /var/log/containerd-build.log
docker commit \
  --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
  --change "LABEL creditrisk.kind-offline.stamp=\"$node_stamp\"" \
  "$cid" "$NODE_IMAGE" >/dev/null
docker rm -f "$cid" >/dev/null
trap - EXIT
secs=$(( $(date +%s) - t0 ))
printf '%s node-image %s\n' "$(date -u +%FT%TZ)" "$secs" >>"$CACHE/times.txt"
log "$NODE_IMAGE: built in ${secs}s ($(docker image inspect --format '{{.Size}}' "$NODE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
printf '%s\n' "$NODE_IMAGE"
