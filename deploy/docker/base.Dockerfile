# Shared base of every platform image: the Python runtime, the app user (UID 10001), the
# environment a read-only root filesystem needs, the health probe, and the builder step
# every image runs (/opt/build-venv: one service's wheels into /opt/venv, then pruned). Built by `make images` as
# creditrisk/base:$IMAGE_TAG; every service Dockerfile starts FROM it (builder and runtime).
#
# PYTHON_IMAGE selects the Python base:
#   python:3.11.14-slim-trixie              official image (default; needs a registry)
#   creditrisk/python-base:3.11-bookworm    Debian packages, built here by
#                                           scripts/docker/base-image.sh (no registry)
# make images pulls the first and falls back to the second when no registry answers.
ARG PYTHON_IMAGE=python:3.11.14-slim-trixie
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="creditrisk-base" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    XDG_CACHE_HOME=/tmp/.cache \
    MPLCONFIGDIR=/tmp/matplotlib \
    LANG=C.UTF-8 \
    GIT_PYTHON_REFRESH=quiet
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin app
COPY deploy/docker/healthcheck.py deploy/docker/prune.py /opt/
COPY deploy/docker/build-venv.sh /opt/build-venv
RUN python3 -m compileall -q /opt/healthcheck.py \
 && chmod 0755 /opt/build-venv
WORKDIR /app
USER 10001:10001
