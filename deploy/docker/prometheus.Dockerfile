# Prometheus from Debian's package, for machines that cannot pull docker.io/prom/prometheus
# (no registry): `make images` builds it as creditrisk/prometheus:dev; compose.yaml uses it
# through PROMETHEUS_IMAGE. The entrypoint is the server, as in the official image, so
# compose's command line (--config.file=... --storage.tsdb.path=...) works with either.
# DEBIAN_IMAGE: debian:bookworm-slim where a registry answers, else the Debian-built
# creditrisk/python-base (scripts/docker/base-image.sh).
ARG DEBIAN_IMAGE=debian:bookworm-slim
FROM ${DEBIAN_IMAGE}
LABEL org.opencontainers.image.title="creditrisk-prometheus" \
      org.opencontainers.image.description="Prometheus from Debian bookworm packages" \
      org.opencontainers.image.licenses="Apache-2.0"
# the package's version in bookworm; pinned so a rebuild is the same server
ARG PROMETHEUS_VERSION=2.42.0+ds-5+deb12u1
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "prometheus=${PROMETHEUS_VERSION}" \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /usr/share/doc/* \
 && mkdir -p /prometheus && chown 65534:65534 /prometheus
WORKDIR /prometheus
USER 65534:65534
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
