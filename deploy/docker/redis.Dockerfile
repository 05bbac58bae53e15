# Redis from Debian's package, for machines that cannot pull docker.io/library/redis
# (no registry): `make images` builds it as creditrisk/redis:7.0-bookworm; compose.yaml and
# the container tests use it through REDIS_IMAGE. Same command line as the official image:
#   docker run creditrisk/redis:7.0-bookworm redis-server --save "" --appendonly no
# DEBIAN_IMAGE: debian:bookworm-slim where a registry answers, else the Debian-built
# creditrisk/python-base (scripts/docker/base-image.sh).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
LABEL org.opencontainers.image.title="creditrisk-redis" \
      org.opencontainers.image.description="redis-server from Debian bookworm packages" \
      org.opencontainers.image.licenses="BSD-3-Clause"
# the package's version in bookworm; pinned so a rebuild is the same server
ARG REDIS_VERSION=5:7.0.15-1~deb12u7
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "redis-server=${REDIS_VERSION}" "redis-tools=${REDIS_VERSION}" \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc/* \
 && mkdir -p /data && chown 999:999 /data
WORKDIR /data
USER 999:999
EXPOSE 6379
HEALTHCHECK --interval=5s --timeout=3s --retries=10 CMD ["redis-cli", "ping"]
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
