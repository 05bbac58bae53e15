#!/usr/bin/env bash
# Puts checkov (the chart audit's scanner, PyPI) into its own virtualenv and links
# DEST_DIR/checkov to it. Its own venv because checkov pins packaging, networkx, boto3 and
# friends to versions the platform's environment must not be downgraded to.
# usage: scripts/install-checkov.sh [DEST_DIR]   (default: .tools/bin)   -> prints the path
set -euo pipefail
version="3.3.30"
dest="${1:-.tools/bin}"
mkdir -p "$dest"
parent="$(cd "$(dirname "$dest")" && pwd -P)"
venv="$parent/checkov-venv"
if [ -x "$dest/checkov" ] && "$dest/checkov" --version 2>/dev/null | grep -qx "$version"; then
  echo "$dest/checkov"; exit 0
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$version" >&2
ln -sf ../checkov-venv/bin/checkov "$dest/checkov"
"$dest/checkov" --version >&2
echo "$dest/checkov"
