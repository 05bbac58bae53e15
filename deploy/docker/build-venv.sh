#!/bin/sh
# The builder step of every platform image, in one place (copied into the shared base as
# /opt/build-venv). A service Dockerfile's builder stage copies its wheelhouse folder
# (scripts/docker/wheelhouse.sh: its wheels and requirements.txt) and runs:
#
#   /opt/build-venv /wheels        -> /opt/venv, which the runtime stage copies
#
# Offline (--no-index), then `pip check`, then pip itself is removed from the venv and
# what the service never loads is pruned (/opt/prune.py).
set -eu
wheels="${1:?usage: build-venv WHEEL_FOLDER}"
python3 -m venv /opt/venv
/opt/venv/bin/pip install --no-index --find-links "$wheels" --no-cache-dir \
  --disable-pip-version-check -q -r "$wheels/requirements.txt"
/opt/venv/bin/pip check
/opt/venv/bin/pip uninstall -q -y pip
/opt/venv/bin/python /opt/prune.py /opt/venv/lib/python3.11/site-packages
